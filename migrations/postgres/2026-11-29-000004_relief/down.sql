DROP TABLE policies;
DROP TABLE assessments;
DROP TABLE household_members;
DROP TABLE households;
DROP TABLE incident_units;
DROP TABLE incidents;
