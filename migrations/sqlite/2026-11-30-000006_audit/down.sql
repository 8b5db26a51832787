DROP TABLE checkpoints;
DROP TABLE audit_events;
