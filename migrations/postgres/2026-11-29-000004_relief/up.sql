CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('typhoon', 'flood', 'flash_flood', 'landslide', 'drought',
        'saltwater_intrusion', 'fire', 'crop_failure', 'epidemic', 'work_accident', 'traffic_accident',
        'domestic_violence', 'trafficking', 'other')),
    name TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    ended_at BIGINT,
    status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    closed_at BIGINT,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE INDEX incidents_started ON incidents (started_at);

CREATE TABLE incident_units (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    unit_edition INTEGER NOT NULL,
    unit_code TEXT NOT NULL,
    unit_path TEXT NOT NULL,
    PRIMARY KEY (incident_id, unit_edition, unit_code),
    FOREIGN KEY (unit_edition, unit_code) REFERENCES units (edition, code)
);
CREATE INDEX incident_units_path ON incident_units (unit_edition, unit_path);

-- Households hold personal data; national ID numbers are kept only as a keyed hash (HMAC with a
-- server secret) and their last four digits.
CREATE TABLE households (
    id TEXT PRIMARY KEY,
    unit_edition INTEGER NOT NULL,
    unit_code TEXT NOT NULL,
    unit_path TEXT NOT NULL,
    head_name TEXT NOT NULL,
    head_name_folded TEXT NOT NULL,
    address TEXT NOT NULL,
    poverty_status TEXT NOT NULL CHECK (poverty_status IN ('poor', 'near_poor', 'hardship', 'none')),
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    FOREIGN KEY (unit_edition, unit_code) REFERENCES units (edition, code)
);
CREATE INDEX households_unit ON households (unit_edition, unit_path);
CREATE INDEX households_name ON households (head_name_folded);

CREATE TABLE household_members (
    id TEXT PRIMARY KEY,
    household_id TEXT NOT NULL REFERENCES households (id),
    idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    birth_year INTEGER NOT NULL,
    sex TEXT NOT NULL CHECK (sex IN ('female', 'male', 'unspecified')),
    flags TEXT NOT NULL,
    is_head BOOLEAN NOT NULL,
    id_hmac TEXT,
    id_last4 TEXT,
    unit_edition INTEGER NOT NULL,
    unit_code TEXT NOT NULL,
    UNIQUE (household_id, idx)
);
-- The same person is registered once per commune, and heads at most one household.
CREATE UNIQUE INDEX household_members_person ON household_members (id_hmac, unit_edition, unit_code)
    WHERE id_hmac IS NOT NULL;
CREATE UNIQUE INDEX household_members_head ON household_members (id_hmac)
    WHERE is_head AND id_hmac IS NOT NULL;

-- Damage assessments: a correction is a new version; the old one is kept.
CREATE TABLE assessments (
    id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    household_id TEXT NOT NULL REFERENCES households (id),
    version INTEGER NOT NULL CHECK (version > 0),
    supersedes_id TEXT REFERENCES assessments (id),
    is_current BOOLEAN NOT NULL,
    deaths INTEGER NOT NULL CHECK (deaths >= 0),
    missing INTEGER NOT NULL CHECK (missing >= 0),
    severely_injured INTEGER NOT NULL CHECK (severely_injured >= 0),
    house_damage TEXT NOT NULL CHECK (house_damage IN ('none', 'damaged', 'severely_damaged', 'collapsed', 'relocation')),
    people_needing_food INTEGER NOT NULL CHECK (people_needing_food >= 0),
    months_of_food INTEGER NOT NULL CHECK (months_of_food >= 0),
    assessor TEXT NOT NULL,
    assessed_on TEXT NOT NULL,
    note TEXT,
    recorded_at BIGINT NOT NULL,
    recorded_by TEXT NOT NULL REFERENCES users (id),
    UNIQUE (incident_id, household_id, version)
);
CREATE UNIQUE INDEX assessments_current ON assessments (incident_id, household_id) WHERE is_current;

-- Versioned entitlement rule sets: national (no province) or one province's. Never updated.
CREATE TABLE policies (
    id TEXT PRIMARY KEY,
    legal_basis TEXT NOT NULL,
    province_edition INTEGER,
    province_code TEXT,
    effective_from TEXT NOT NULL,
    effective_to TEXT,
    standard_level_vnd BIGINT NOT NULL CHECK (standard_level_vnd > 0),
    rules TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT REFERENCES users (id)
);
