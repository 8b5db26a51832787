DROP TABLE holds;
DROP TABLE postings;
DROP TABLE entries;
DROP TABLE accounts;
DROP TABLE fund_bank_accounts;
DROP TABLE funds;
DROP TABLE assets;
