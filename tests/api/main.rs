//! The one integration-test binary: every test runs the real HTTP app, on SQLite (a file per
//! test) and on PostgreSQL (a database per test, at `TEST_DATABASE_URL`). The PostgreSQL tests
//! fail, never skip, when PostgreSQL cannot be reached.

mod helpers;

mod audit;
mod auth;
mod authz;
mod donations;
mod errors;
mod hostile;
mod ledger;
mod ledger_storage;
mod ops;
mod payouts;
mod public;
mod reliability;
mod relief;
mod reports;
mod site;
mod units;
mod users;
