//! End-to-end tests in headless Chromium (through chromedriver), against the real app started
//! in-process on SQLite and on PostgreSQL, as in `tests/api`. They need the Debian packages
//! `chromium` and `chromium-driver` (`.ci/run` installs them) and fail, never skip, without
//! them. One browser runs at a time. Screenshots of the main pages at phone and desktop width go
//! to `<target dir>/tmp/screenshots` (see `driver::screenshot_dir`). Run them alone with
//! `cargo test -p relief-tests --test browser`.

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;

mod driver;
mod scenarios;
