-- Above this total in đồng, a payout out of the fund needs two distinct approvers.
ALTER TABLE funds ADD COLUMN dual_approval_above_vnd BIGINT;

CREATE TABLE disbursements (
    id TEXT PRIMARY KEY,
    fund_id TEXT NOT NULL REFERENCES funds (id),
    incident_id TEXT REFERENCES incidents (id),
    household_id TEXT NOT NULL REFERENCES households (id),
    assessment_id TEXT REFERENCES assessments (id),
    purpose TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('proposed', 'approved', 'rejected', 'cancelled', 'paid')),
    approvals_needed INTEGER NOT NULL CHECK (approvals_needed IN (1, 2)),
    total_vnd BIGINT NOT NULL,
    proposed_by TEXT NOT NULL REFERENCES users (id),
    proposed_at BIGINT NOT NULL,
    method TEXT CHECK (method IN ('cash', 'bank', 'goods')),
    reference TEXT,
    received_by TEXT,
    paid_at BIGINT,
    days_since_incident INTEGER,
    days_since_assessment INTEGER
);
CREATE INDEX disbursements_fund ON disbursements (fund_id, status);
CREATE INDEX disbursements_incident ON disbursements (incident_id, household_id);

CREATE TABLE disbursement_lines (
    disbursement_id TEXT NOT NULL REFERENCES disbursements (id),
    idx INTEGER NOT NULL,
    category TEXT NOT NULL,
    asset TEXT NOT NULL REFERENCES assets (code),
    amount BIGINT NOT NULL CHECK (amount > 0),
    PRIMARY KEY (disbursement_id, idx)
);

CREATE TABLE allocations (
    id TEXT PRIMARY KEY,
    from_fund_id TEXT NOT NULL REFERENCES funds (id),
    to_fund_id TEXT NOT NULL REFERENCES funds (id),
    decision_ref TEXT NOT NULL,
    round INTEGER NOT NULL CHECK (round > 0),
    purpose TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('proposed', 'approved', 'rejected', 'cancelled', 'paid')),
    approvals_needed INTEGER NOT NULL CHECK (approvals_needed IN (1, 2)),
    total_vnd BIGINT NOT NULL,
    proposed_by TEXT NOT NULL REFERENCES users (id),
    proposed_at BIGINT NOT NULL,
    executed_at BIGINT,
    CHECK (from_fund_id <> to_fund_id)
);
CREATE INDEX allocations_from ON allocations (from_fund_id);
CREATE INDEX allocations_to ON allocations (to_fund_id);

CREATE TABLE allocation_lines (
    allocation_id TEXT NOT NULL REFERENCES allocations (id),
    idx INTEGER NOT NULL,
    asset TEXT NOT NULL REFERENCES assets (code),
    amount BIGINT NOT NULL CHECK (amount > 0),
    PRIMARY KEY (allocation_id, idx)
);

-- Every transition of a disbursement or allocation, with who and when.
CREATE TABLE payout_events (
    id TEXT PRIMARY KEY,
    subject_type TEXT NOT NULL CHECK (subject_type IN ('disbursement', 'allocation')),
    subject_id TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('proposed', 'approved', 'rejected', 'cancelled', 'paid')),
    actor_id TEXT NOT NULL REFERENCES users (id),
    at BIGINT NOT NULL,
    note TEXT
);
CREATE INDEX payout_events_subject ON payout_events (subject_type, subject_id);
-- A person approves an item at most once.
CREATE UNIQUE INDEX payout_events_one_approval ON payout_events (subject_type, subject_id, actor_id)
    WHERE action = 'approved';
CREATE INDEX holds_ref ON holds (ref_type, ref_id);
