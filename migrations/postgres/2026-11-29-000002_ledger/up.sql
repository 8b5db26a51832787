CREATE TABLE assets (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    unit TEXT NOT NULL,
    scale INTEGER NOT NULL CHECK (scale BETWEEN 0 AND 6),
    kind TEXT NOT NULL CHECK (kind IN ('currency', 'goods')),
    created_at BIGINT NOT NULL
);

-- Seeded assets: currencies and common relief goods (2026-01-01T00:00:00Z).
INSERT INTO assets (code, name, unit, scale, kind, created_at) VALUES
    ('VND', 'Vietnamese đồng', 'đồng', 0, 'currency', 1767225600000000),
    ('USD', 'US dollar', 'dollar', 2, 'currency', 1767225600000000),
    ('EUR', 'Euro', 'euro', 2, 'currency', 1767225600000000),
    ('RICE_KG', 'Rice', 'kg', 3, 'goods', 1767225600000000),
    ('WATER_L', 'Drinking water', 'litre', 1, 'goods', 1767225600000000),
    ('NOODLES_BOX', 'Instant noodles', 'box', 0, 'goods', 1767225600000000),
    ('BLANKET', 'Blanket', 'piece', 0, 'goods', 1767225600000000),
    ('LIFE_JACKET', 'Life jacket', 'piece', 0, 'goods', 1767225600000000),
    ('MOSQUITO_NET', 'Mosquito net', 'piece', 0, 'goods', 1767225600000000),
    ('TARPAULIN', 'Tarpaulin', 'piece', 0, 'goods', 1767225600000000),
    ('MEDICINE_KIT', 'Medicine kit', 'kit', 0, 'goods', 1767225600000000),
    ('WATER_FILTER', 'Water filter', 'piece', 0, 'goods', 1767225600000000);

CREATE TABLE funds (
    id TEXT PRIMARY KEY,
    unit_edition INTEGER NOT NULL,
    unit_code TEXT NOT NULL,
    unit_path TEXT NOT NULL,
    name TEXT NOT NULL,
    custodian TEXT NOT NULL,
    custodian_kind TEXT NOT NULL CHECK (custodian_kind IN
        ('fatherland_front', 'red_cross', 'social_affairs', 'peoples_committee', 'charity_fund', 'other')),
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    -- The head of the fund's hash chain: the last seq and its hash (64 zero digits before any).
    chain_seq BIGINT NOT NULL DEFAULT 0,
    chain_head TEXT NOT NULL,
    FOREIGN KEY (unit_edition, unit_code) REFERENCES units (edition, code)
);
CREATE INDEX funds_unit_path ON funds (unit_edition, unit_path);

CREATE TABLE fund_bank_accounts (
    id TEXT PRIMARY KEY,
    fund_id TEXT NOT NULL REFERENCES funds (id),
    bank TEXT NOT NULL,
    account_number TEXT NOT NULL,
    account_name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (bank, account_number)
);
CREATE INDEX fund_bank_accounts_fund ON fund_bank_accounts (fund_id);

-- One account per fund, kind, asset and designation (the donor's earmark, '' for unrestricted
-- money). Only 'fund' accounts hold the fund's own money and may never have posted below reserved.
CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    fund_id TEXT NOT NULL REFERENCES funds (id),
    kind TEXT NOT NULL CHECK (kind IN ('fund', 'donations', 'payouts', 'opening', 'in_transit')),
    asset TEXT NOT NULL REFERENCES assets (code),
    designation TEXT NOT NULL DEFAULT '',
    posted BIGINT NOT NULL DEFAULT 0,
    reserved BIGINT NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    UNIQUE (fund_id, kind, asset, designation),
    UNIQUE (id, asset),
    CHECK (kind <> 'fund' OR posted >= reserved)
);

CREATE TABLE entries (
    id TEXT PRIMARY KEY,
    fund_id TEXT NOT NULL REFERENCES funds (id),
    seq BIGINT NOT NULL CHECK (seq > 0),
    kind TEXT NOT NULL CHECK (kind IN ('opening_balance', 'donation', 'disbursement', 'allocation', 'reversal')),
    reason TEXT NOT NULL,
    actor_id TEXT NOT NULL REFERENCES users (id),
    ref_type TEXT,
    ref_id TEXT,
    reverses_entry_id TEXT UNIQUE REFERENCES entries (id),
    effective_at BIGINT NOT NULL,
    recorded_at BIGINT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    UNIQUE (fund_id, seq)
);
CREATE INDEX entries_fund_effective ON entries (fund_id, effective_at);
CREATE INDEX entries_ref ON entries (ref_type, ref_id);

-- Postings are written before their entry (the foreign key is checked at commit); inserting the
-- entry seals them, and a trigger then checks that they balance.
CREATE TABLE postings (
    entry_id TEXT NOT NULL REFERENCES entries (id) DEFERRABLE INITIALLY DEFERRED,
    idx INTEGER NOT NULL,
    account_id TEXT NOT NULL,
    asset TEXT NOT NULL,
    amount BIGINT NOT NULL CHECK (amount <> 0),
    PRIMARY KEY (entry_id, idx),
    FOREIGN KEY (account_id, asset) REFERENCES accounts (id, asset)
);
CREATE INDEX postings_account ON postings (account_id);

CREATE TABLE holds (
    id TEXT PRIMARY KEY,
    fund_id TEXT NOT NULL REFERENCES funds (id),
    account_id TEXT NOT NULL REFERENCES accounts (id),
    asset TEXT NOT NULL REFERENCES assets (code),
    amount BIGINT NOT NULL CHECK (amount > 0),
    status TEXT NOT NULL CHECK (status IN ('pending', 'posted', 'voided')),
    posted_amount BIGINT,
    entry_id TEXT REFERENCES entries (id),
    ref_type TEXT,
    ref_id TEXT,
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    resolved_at BIGINT,
    resolved_by TEXT REFERENCES users (id),
    CHECK ((status = 'pending') = (resolved_at IS NULL))
);
CREATE INDEX holds_fund ON holds (fund_id, status);

-- The ledger is append-only.
CREATE FUNCTION relief_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME;
END
$$;
CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION relief_append_only();
CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings
    FOR EACH ROW EXECUTE FUNCTION relief_append_only();
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries
    FOR EACH STATEMENT EXECUTE FUNCTION relief_append_only();
CREATE TRIGGER postings_no_truncate BEFORE TRUNCATE ON postings
    FOR EACH STATEMENT EXECUTE FUNCTION relief_append_only();

-- Postings cannot be added to an entry that is already written.
CREATE FUNCTION relief_postings_sealed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM entries WHERE id = NEW.entry_id) THEN
        RAISE EXCEPTION 'the entry % is sealed: no postings can be added', NEW.entry_id;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER postings_sealed BEFORE INSERT ON postings
    FOR EACH ROW EXECUTE FUNCTION relief_postings_sealed();

-- An entry has two or more postings and they sum to zero per asset.
CREATE FUNCTION relief_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT COUNT(*) FROM postings WHERE entry_id = NEW.id) < 2 THEN
        RAISE EXCEPTION 'the entry % has fewer than two postings', NEW.id;
    END IF;
    IF EXISTS (SELECT 1 FROM postings WHERE entry_id = NEW.id GROUP BY asset HAVING SUM(amount) <> 0) THEN
        RAISE EXCEPTION 'the entry % does not balance', NEW.id;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER entries_balanced AFTER INSERT ON entries
    FOR EACH ROW EXECUTE FUNCTION relief_entry_balanced();
