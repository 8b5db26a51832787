-- pgbench script for the pgledger anchor of issue 8: one transfer through pgledger's own
-- PL/pgSQL function (pgledger is not part of this repository; relief-bench loads it from the
-- files given with --pgledger-sql into its scratch database, creates accounts 0..accounts-1 and
-- names them in bench_pgledger(n, id)).
--
-- relief-bench runs it as: pgbench -n -c 32 -j 2 -T <secs> -f pgledger_transfer.sql
--   -D accounts=<how many> -D hot=<0 or 1>
-- Spread (hot=0): between two different accounts drawn at random. Hot (hot=1): every transfer
-- goes to account 0, from one of the others drawn at random (the anchor's "one hot account").
\set a random(:hot, :accounts - 1)
\set d random(1, :accounts - 1)
\set b CASE WHEN :hot = 1 THEN 0 ELSE (:a + :d) % :accounts END
\set amount random(1000, 1000000)
SELECT id FROM pgledger_create_transfer(
    (SELECT id FROM bench_pgledger WHERE n = :a),
    (SELECT id FROM bench_pgledger WHERE n = :b),
    :amount);
