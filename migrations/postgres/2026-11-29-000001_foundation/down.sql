DROP TABLE users;
DROP TABLE units;
DROP TABLE settings;
