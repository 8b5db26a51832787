-- Appeals (Decree 93/2021): one fund, a receiving period of at most 90 days unless extended by a
-- recorded decision. Calendar dates are 'YYYY-MM-DD' text in Vietnam time (UTC+7).
CREATE TABLE campaigns (
    id TEXT PRIMARY KEY,
    fund_id TEXT NOT NULL REFERENCES funds (id),
    name TEXT NOT NULL,
    appeal_ref TEXT NOT NULL,
    opens_on TEXT NOT NULL,
    closes_on TEXT NOT NULL,
    incident_id TEXT,
    bank_account_id TEXT REFERENCES fund_bank_accounts (id),
    closed_at BIGINT,
    closed_by TEXT REFERENCES users (id),
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    CHECK (opens_on <= closes_on)
);
CREATE INDEX campaigns_fund ON campaigns (fund_id);

CREATE TABLE campaign_extensions (
    id TEXT PRIMARY KEY,
    campaign_id TEXT NOT NULL REFERENCES campaigns (id),
    previous_closes_on TEXT NOT NULL,
    closes_on TEXT NOT NULL,
    decision_ref TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id)
);
CREATE INDEX campaign_extensions_campaign ON campaign_extensions (campaign_id);

-- Donors hold personal data: visible only to staff whose scope covers the unit they were
-- recorded in, never logged.
CREATE TABLE donors (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('individual', 'organisation', 'enterprise', 'foreign')),
    name TEXT NOT NULL,
    name_folded TEXT NOT NULL,
    phone TEXT,
    email TEXT,
    address TEXT,
    tax_code TEXT,
    country TEXT,
    publish_name BOOLEAN NOT NULL,
    scope_edition INTEGER,
    scope_path TEXT,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id)
);
CREATE INDEX donors_name ON donors (name_folded);

CREATE TABLE donations (
    id TEXT PRIMARY KEY,
    fund_id TEXT NOT NULL REFERENCES funds (id),
    campaign_id TEXT REFERENCES campaigns (id),
    donor_id TEXT REFERENCES donors (id),
    status TEXT NOT NULL CHECK (status IN ('pledged', 'fulfilled', 'received', 'reversed')),
    channel TEXT NOT NULL CHECK (channel IN ('cash', 'bank_transfer', 'in_kind')),
    bank_account_id TEXT REFERENCES fund_bank_accounts (id),
    bank_ref TEXT,
    received_at BIGINT NOT NULL,
    recorded_at BIGINT NOT NULL,
    receipt_year INTEGER,
    receipt_seq BIGINT,
    receipt_no TEXT,
    entry_id TEXT REFERENCES entries (id),
    fulfills_pledge_id TEXT UNIQUE REFERENCES donations (id),
    designation TEXT NOT NULL DEFAULT '',
    earmark_incident_id TEXT,
    earmark_unit_edition INTEGER,
    earmark_unit_code TEXT,
    earmark_household_id TEXT,
    earmark_purpose TEXT,
    total_vnd BIGINT NOT NULL,
    note TEXT,
    reversal_entry_id TEXT REFERENCES entries (id),
    reversed_at BIGINT,
    reversal_reason TEXT,
    created_by TEXT NOT NULL REFERENCES users (id),
    UNIQUE (fund_id, receipt_year, receipt_seq),
    CHECK ((status IN ('received', 'reversed')) = (receipt_no IS NOT NULL))
);
CREATE INDEX donations_fund ON donations (fund_id, received_at);
CREATE INDEX donations_campaign ON donations (campaign_id);
CREATE INDEX donations_donor ON donations (donor_id);
CREATE INDEX donations_bank_ref ON donations (bank_ref);
-- A bank transfer is recorded once per account; a reversed one may be entered again corrected.
CREATE UNIQUE INDEX donations_bank_ref_live ON donations (bank_account_id, bank_ref)
    WHERE status <> 'reversed';
CREATE INDEX donations_receipt_no ON donations (receipt_no);

-- Lines: an amount of an asset (money, or a quantity of goods) and, for goods, a VND valuation.
CREATE TABLE donation_lines (
    donation_id TEXT NOT NULL REFERENCES donations (id),
    idx INTEGER NOT NULL,
    asset TEXT NOT NULL REFERENCES assets (code),
    amount BIGINT NOT NULL CHECK (amount > 0),
    value_vnd BIGINT CHECK (value_vnd >= 0),
    description TEXT,
    PRIMARY KEY (donation_id, idx)
);

-- The last receipt number used per fund and year; advanced in the donation's transaction, under
-- the fund's lock, so numbers are gapless.
CREATE TABLE receipt_counters (
    fund_id TEXT NOT NULL REFERENCES funds (id),
    year INTEGER NOT NULL,
    last_seq BIGINT NOT NULL,
    PRIMARY KEY (fund_id, year)
);

-- Idempotency keys per user: the request fingerprint and the stored answer, written in the same
-- transaction as the effect.
CREATE TABLE idempotency_keys (
    user_id TEXT NOT NULL REFERENCES users (id),
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, key)
);

CREATE TABLE bank_statements (
    id TEXT PRIMARY KEY,
    fund_id TEXT NOT NULL REFERENCES funds (id),
    bank_account_id TEXT NOT NULL REFERENCES fund_bank_accounts (id),
    lines_total INTEGER NOT NULL,
    lines_new INTEGER NOT NULL,
    first_date TEXT,
    last_date TEXT,
    imported_at BIGINT NOT NULL,
    imported_by TEXT NOT NULL REFERENCES users (id)
);

-- A statement line is identified per bank account by its bank reference (or, without one, by a
-- hash of its content and position), so importing overlapping statements adds each line once.
CREATE TABLE bank_statement_lines (
    id TEXT PRIMARY KEY,
    statement_id TEXT NOT NULL REFERENCES bank_statements (id),
    bank_account_id TEXT NOT NULL REFERENCES fund_bank_accounts (id),
    line_no INTEGER NOT NULL,
    line_key TEXT NOT NULL,
    booked_on TEXT NOT NULL,
    amount BIGINT NOT NULL,
    reference TEXT,
    counterparty TEXT,
    message TEXT,
    donation_id TEXT REFERENCES donations (id),
    UNIQUE (bank_account_id, line_key)
);
CREATE INDEX bank_statement_lines_statement ON bank_statement_lines (statement_id);
