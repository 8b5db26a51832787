-- pgbench baseline: one donation intake (one cash line) with the same statements the service
-- writes for POST /v1/donations (crates/storage/src/idempotency.rs, donations.rs, ledger.rs and
-- the audit event), on the same tables, indexes and constraints, in the service's scratch
-- database. What it leaves out is what the service adds around SQL: HTTP, JSON, authentication,
-- the checks, and the canonical hash (here one sha256() in SQL).
--
-- relief-bench runs it as: pgbench -n -c 32 -j 2 -T <secs> -f donation.sql
--   -D actor=<user id> -D year=<receipt year> -D base=<first n> -D funds=<how many>
-- with bench_funds(n, fund_id) naming the funds to spread over (each with its accounts
-- created by one donation through the API). Simple query mode: variables are substituted as
-- text, also inside quotes.
\set n :base + random(0, :funds - 1)
\set amount random(1000, 1000000)
BEGIN;
INSERT INTO idempotency_keys (user_id, key, fingerprint, status, body, created_at)
    VALUES (':actor', CAST(gen_random_uuid() AS text), md5(CAST(random() AS text)) || md5(CAST(random() AS text)), 0, '',
            CAST(extract(epoch FROM clock_timestamp()) * 1000000 AS bigint))
    RETURNING key \gset
SELECT id AS fund, chain_seq AS seq, chain_head AS head,
       CAST(gen_random_uuid() AS text) AS eid, CAST(gen_random_uuid() AS text) AS did,
       CAST(extract(epoch FROM clock_timestamp()) * 1000000 AS bigint) AS now_us
    FROM funds WHERE id = (SELECT fund_id FROM bench_funds WHERE n = :n) FOR UPDATE \gset
INSERT INTO receipt_counters (fund_id, year, last_seq) VALUES (':fund', :year, 1)
    ON CONFLICT (fund_id, year) DO UPDATE SET last_seq = receipt_counters.last_seq + 1
    RETURNING last_seq AS rseq \gset
UPDATE accounts SET posted = posted + :amount
    WHERE fund_id = ':fund' AND kind = 'fund' AND asset = 'VND' AND designation = ''
    RETURNING id AS fa \gset
UPDATE accounts SET posted = posted - :amount
    WHERE fund_id = ':fund' AND kind = 'donations' AND asset = 'VND' AND designation = ''
    RETURNING id AS da \gset
INSERT INTO postings (entry_id, idx, account_id, asset, amount)
    VALUES (':eid', 0, ':fa', 'VND', :amount), (':eid', 1, ':da', 'VND', -:amount);
INSERT INTO entries (id, fund_id, seq, kind, reason, actor_id, ref_type, ref_id,
                     effective_at, recorded_at, prev_hash, hash)
    VALUES (':eid', ':fund', :seq + 1, 'donation', 'donation BN-' || :year || '-' || lpad(CAST(:rseq AS text), 6, '0'),
            ':actor', 'donation', ':did', :now_us, :now_us, ':head',
            encode(sha256(convert_to(concat_ws('|', ':fund', :seq + 1, ':eid', ':head', :amount), 'UTF8')), 'hex'))
    RETURNING hash \gset
UPDATE funds SET chain_seq = :seq + 1, chain_head = ':hash' WHERE id = ':fund';
INSERT INTO donations (id, fund_id, status, channel, received_at, recorded_at, receipt_year,
                       receipt_seq, receipt_no, entry_id, designation, total_vnd, created_by)
    VALUES (':did', ':fund', 'received', 'cash', :now_us, :now_us, :year, :rseq,
            'BN-' || :year || '-' || lpad(CAST(:rseq AS text), 6, '0'), ':eid', '', :amount, ':actor');
INSERT INTO donation_lines (donation_id, idx, asset, amount) VALUES (':did', 0, 'VND', :amount);
INSERT INTO audit_events (id, occurred_at, actor_id, actor_role, request_id, action, entity_type,
                          entity_id, fund_id, unit_edition, unit_path, detail)
    VALUES (CAST(gen_random_uuid() AS text), :now_us, ':actor', 'fund_manager', md5(CAST(random() AS text)),
            'POST /v1/donations', 'donation', ':did', ':fund', 2025, 'P52/C21583',
            repeat('x', 700));
UPDATE idempotency_keys SET status = 201, body = repeat('x', 700)
    WHERE user_id = ':actor' AND key = ':key';
END;
