DROP INDEX holds_ref;
DROP TABLE payout_events;
DROP TABLE allocation_lines;
DROP TABLE allocations;
DROP TABLE disbursement_lines;
DROP TABLE disbursements;
ALTER TABLE funds DROP COLUMN dual_approval_above_vnd;
