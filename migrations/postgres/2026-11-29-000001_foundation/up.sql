-- Identifiers are UUIDv7 in canonical text form and instants are microseconds since the Unix epoch
-- (UTC) in BIGINT, the same representation on both backends (see ARCHITECTURE.md).

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE units (
    edition INTEGER NOT NULL CHECK (edition IN (2024, 2025)),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    name_folded TEXT NOT NULL,
    level TEXT NOT NULL CHECK (level IN ('province', 'district', 'commune')),
    division_type TEXT NOT NULL,
    parent_code TEXT,
    path TEXT NOT NULL,
    PRIMARY KEY (edition, code),
    FOREIGN KEY (edition, parent_code) REFERENCES units (edition, code)
);
CREATE INDEX units_parent ON units (edition, parent_code);
CREATE INDEX units_path ON units (edition, path);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'fund_manager', 'approver', 'auditor')),
    scope_edition INTEGER,
    scope_code TEXT,
    scope_path TEXT,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    created_by TEXT REFERENCES users (id),
    FOREIGN KEY (scope_edition, scope_code) REFERENCES units (edition, code),
    CHECK ((scope_code IS NULL) = (scope_edition IS NULL) AND (scope_code IS NULL) = (scope_path IS NULL))
);
