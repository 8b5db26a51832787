-- pgbench baseline: one donation intake (one cash line) with the same statements the service
-- sends to PostgreSQL inside the transaction of POST /v1/donations (crates/storage/src/
-- idempotency.rs, donations.rs, ledger.rs and the audit event; the asset list comes from the
-- service's in-memory cache, assets::Cache), on the same tables, indexes,
-- constraints and triggers, in the service's scratch database. What it leaves out is what the
-- service adds around SQL: HTTP, JSON, authentication (the user and the fund's scope are read
-- before the transaction, two more round trips), the checks, and the canonical hash (here one
-- sha256() in SQL).
--
-- relief-bench runs it as: pgbench -n -M prepared -c 32 -j 2 -T <secs> -f donation.sql
--   -D actor=<user id> -D year=<receipt year> -D base=<first n> -D funds=<how many>
-- with bench_funds(n, fund_id) naming the funds to spread over (each with its accounts
-- created by one donation through the API). Prepared mode, as the service keeps these
-- statements prepared (storage::db::Cached): each variable is a bind parameter, cast to its
-- type where PostgreSQL could not infer it.
\set n :base + random(0, :funds - 1)
\set amount random(1000, 1000000)
BEGIN;
-- The idempotency key is looked up (a fresh key: no row; by its primary key).
SELECT k AS key,
       (SELECT count(*) FROM idempotency_keys WHERE user_id = CAST(:actor AS text) AND key = s.k) AS replays
    FROM (SELECT CAST(gen_random_uuid() AS text) AS k) AS s \gset
-- The fund's row lock, which reads the chain head.
SELECT id AS fund, chain_seq AS seq, chain_head AS head,
       CAST(gen_random_uuid() AS text) AS eid, CAST(gen_random_uuid() AS text) AS did,
       CAST(extract(epoch FROM clock_timestamp()) * 1000000 AS bigint) AS now_us
    FROM funds WHERE id = (SELECT fund_id FROM bench_funds WHERE n = CAST(:n AS bigint)) FOR UPDATE \gset
INSERT INTO receipt_counters (fund_id, year, last_seq) VALUES (CAST(:fund AS text), CAST(:year AS bigint), 1)
    ON CONFLICT (fund_id, year) DO UPDATE SET last_seq = receipt_counters.last_seq + 1
    RETURNING last_seq AS rseq \gset
-- The entry's accounts, locked in id order.
SELECT max(id) FILTER (WHERE kind = 'fund') AS fa, max(posted) FILTER (WHERE kind = 'fund') AS fp,
       max(id) FILTER (WHERE kind = 'donations') AS da, max(posted) FILTER (WHERE kind = 'donations') AS dp
    FROM (SELECT id, kind, posted FROM accounts
          WHERE fund_id = CAST(:fund AS text) AND kind IN ('fund', 'donations') AND asset = 'VND' AND designation = ''
          ORDER BY id FOR UPDATE) a \gset
-- The entry: postings, balances, chain head and the entry in one statement (WRITE_ENTRY_PG).
WITH p AS (
    INSERT INTO postings (entry_id, idx, account_id, asset, amount)
    SELECT CAST(:eid AS text), x.idx, x.account_id, x.asset, x.amount
    FROM unnest(ARRAY[0, 1], ARRAY[CAST(:fa AS text), CAST(:da AS text)], ARRAY['VND', 'VND'], ARRAY[CAST(:amount AS bigint), -CAST(:amount AS bigint)]::bigint[])
        AS x (idx, account_id, asset, amount)
    RETURNING 1),
b AS (
    UPDATE accounts AS a SET posted = x.posted, reserved = x.reserved
    FROM unnest(ARRAY[CAST(:fa AS text), CAST(:da AS text)], ARRAY[CAST(:fp AS bigint) + CAST(:amount AS bigint), CAST(:dp AS bigint) - CAST(:amount AS bigint)], ARRAY[0, 0]::bigint[])
        AS x (id, posted, reserved) WHERE a.id = x.id),
h AS (
    UPDATE funds SET chain_seq = CAST(:seq AS bigint) + 1,
        chain_head = encode(sha256(convert_to(concat_ws('|', CAST(:fund AS text), CAST(:seq AS bigint) + 1, CAST(:eid AS text), CAST(:head AS text), CAST(:amount AS bigint)), 'UTF8')), 'hex')
    WHERE id = CAST(:fund AS text)),
e AS (
INSERT INTO entries (id, fund_id, seq, kind, reason, actor_id, ref_type, ref_id,
                     effective_at, recorded_at, prev_hash, hash)
SELECT CAST(:eid AS text), CAST(:fund AS text), CAST(:seq AS bigint) + 1, 'donation', 'donation BN-' || CAST(:year AS bigint) || '-' || lpad(CAST(:rseq AS text), 6, '0'),
       CAST(:actor AS text), 'donation', CAST(:did AS text), CAST(:now_us AS bigint), CAST(:now_us AS bigint), CAST(:head AS text),
       encode(sha256(convert_to(concat_ws('|', CAST(:fund AS text), CAST(:seq AS bigint) + 1, CAST(:eid AS text), CAST(:head AS text), CAST(:amount AS bigint)), 'UTF8')), 'hex')
WHERE (SELECT count(*) FROM p) = 2
RETURNING 1)
SELECT count(*) AS written FROM e;
-- The donation with its line.
WITH w0 AS (
    INSERT INTO donations (id, fund_id, status, channel, received_at, recorded_at, receipt_year,
                           receipt_seq, receipt_no, entry_id, designation, total_vnd, created_by)
    VALUES (CAST(:did AS text), CAST(:fund AS text), 'received', 'cash', CAST(:now_us AS bigint), CAST(:now_us AS bigint), CAST(:year AS bigint), CAST(:rseq AS bigint),
            'BN-' || CAST(:year AS bigint) || '-' || lpad(CAST(:rseq AS text), 6, '0'), CAST(:eid AS text), '', CAST(:amount AS bigint), CAST(:actor AS text))),
w1 AS (
INSERT INTO donation_lines (donation_id, idx, asset, amount) VALUES (CAST(:did AS text), 0, 'VND', CAST(:amount AS bigint)))
SELECT 1;
-- The audit event with the idempotency key and its answer.
WITH w0 AS (
    INSERT INTO audit_events (id, occurred_at, actor_id, actor_role, request_id, action, entity_type,
                              entity_id, fund_id, unit_edition, unit_path, detail)
    VALUES (CAST(gen_random_uuid() AS text), CAST(:now_us AS bigint), CAST(:actor AS text), 'fund_manager', md5(CAST(random() AS text)),
            'POST /v1/donations', 'donation', CAST(:did AS text), CAST(:fund AS text), 2025, 'P52/C21583', repeat('x', 700))),
w1 AS (
INSERT INTO idempotency_keys (user_id, key, fingerprint, status, body, created_at)
    VALUES (CAST(:actor AS text), CAST(:key AS text), md5(CAST(random() AS text)) || md5(CAST(random() AS text)), 201,
            repeat('x', 700), CAST(:now_us AS bigint)))
SELECT 1;
END;
