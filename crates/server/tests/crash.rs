//! Crash safety: the real `relief` binary, driven over HTTP by concurrent donations and
//! disbursement lifecycles, is killed with SIGKILL at random moments and restarted, on SQLite and
//! on PostgreSQL. Afterwards every acknowledged write must be present exactly once, no entry or
//! record half-written, balances equal to their postings and reservations to the pending holds,
//! receipt numbers gapless per fund and year, and every hash chain valid.
//!
//! The clients behave as a careful client should: a request whose outcome they do not know (the
//! connection broke, or a 503) is sent again, with the same `Idempotency-Key` where the route
//! takes one; a transition without a key (approve, cancel) that is refused as already made after
//! such a retry is confirmed by reading the disbursement back.
//!
//! Randomness is only in timing and amounts (the seed is printed; `RELIEF_CRASH_SEED` replays the
//! amounts, not the timing); the checks compare the database with what the clients recorded.
//! Sizes come from the environment: `RELIEF_CRASH_KILLS` (kills under load per backend, default
//! 20), `RELIEF_CRASH_MAX_UP_MS` (the longest the service runs between kills, default 4000),
//! `RELIEF_CRASH_DONORS` and `RELIEF_CRASH_PAYERS` (client tasks, default 4 and 2), and
//! `RELIEF_CRASH_BIN` (the binary to drive; default the one cargo built with this test; CI
//! passes the release binary). See docs/RELIABILITY.md, "Crash safety".

// A test: a failed unwrap is a failed check. (clippy's `allow-unwrap-in-tests` covers only the
// `#[test]` functions themselves, not their helpers.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use storage::schema::{
    accounts, audit_events, checkpoints, disbursements, donation_lines, donations, entries, holds,
    idempotency_keys, payout_events, postings, receipt_counters,
};

/// Phường Quy Nhơn (Gia Lai), 2025 edition.
const QN: &str = "C21583";
const ADMIN_PASSWORD: &str = "crash-admin-password";
const PASSWORD: &str = "a-good-long-password";
/// Each fund's opening balance in đồng: far more than the disbursements can spend.
const OPENING_VND: i64 = 1_000_000_000_000;
/// How long a client keeps retrying one request before the test gives up.
const RETRY_FOR: Duration = Duration::from_secs(180);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_survives_sigkill_under_load() {
    crash_run(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_survives_sigkill_under_load() {
    crash_run(Backend::Postgres).await;
}

// ---------------------------------------------------------------------------------------------
// Settings

struct Settings {
    kills: u32,
    max_up_ms: u64,
    donors: u64,
    payers: u64,
    seed: u64,
    bin: String,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not {v:?}")),
        Err(_) => default,
    }
}

impl Settings {
    fn from_env() -> Self {
        let clock = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Self {
            kills: env_or("RELIEF_CRASH_KILLS", 20),
            max_up_ms: env_or("RELIEF_CRASH_MAX_UP_MS", 4000).max(200),
            donors: env_or("RELIEF_CRASH_DONORS", 4),
            payers: env_or("RELIEF_CRASH_PAYERS", 2),
            seed: env_or(
                "RELIEF_CRASH_SEED",
                u64::try_from(clock % 1_000_000_007).unwrap(),
            ),
            bin: std::env::var("RELIEF_CRASH_BIN")
                .unwrap_or_else(|_| env!("CARGO_BIN_EXE_relief").to_owned()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A scratch database and the service process

fn pg_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A fresh database (a SQLite file in a scratch directory, or a new PostgreSQL database),
/// removed afterwards.
struct Scratch {
    dir: PathBuf,
    url: String,
    pg_name: Option<String>,
}

impl Scratch {
    fn new(backend: Backend) -> Self {
        let id = uuid::Uuid::now_v7().simple().to_string();
        let dir = std::env::temp_dir().join(format!("relief-crash-{id}"));
        std::fs::create_dir_all(&dir).unwrap();
        match backend {
            Backend::Sqlite => Self {
                url: format!("sqlite://{}", dir.join("relief.db").display()),
                dir,
                pg_name: None,
            },
            Backend::Postgres => {
                use diesel::connection::SimpleConnection;
                let admin = pg_admin_url();
                // The PostgreSQL run must fail, never skip, when PostgreSQL is unreachable.
                let mut c = diesel::PgConnection::establish(&admin).unwrap_or_else(|e| {
                    panic!("PostgreSQL is required for the crash test at {admin}: {e}")
                });
                let name = format!("relief_crash_{id}");
                c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
                Self {
                    url: format!("{base}/{name}"),
                    dir,
                    pg_name: Some(name),
                }
            }
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "crash test: the service's log is kept in {}",
                self.dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
        if let Some(name) = &self.pg_name {
            use diesel::connection::SimpleConnection;
            if let Ok(mut c) = diesel::PgConnection::establish(&pg_admin_url()) {
                let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// A port outside the ephemeral range, so that no outgoing connection takes it while the service
/// is down; another one is chosen if it is taken anyway.
fn pick_port(rng: &mut StdRng) -> u16 {
    loop {
        let port = rng.gen_range(20_000..32_000);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The `relief` process: started, killed with SIGKILL, started again on the same database.
struct Service {
    bin: String,
    url: String,
    dir: PathBuf,
    port: u16,
    base: Arc<RwLock<String>>,
    child: Option<Child>,
    starts: u32,
}

impl Service {
    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("relief.log"))
            .unwrap();
        // A clean environment: no relief.toml, no stray RELIEF_* settings. The signing keys are
        // generated on the first start and kept in the database, so tokens must survive restarts.
        let child = Command::new(&self.bin)
            .arg("serve")
            .env_clear()
            .current_dir(&self.dir)
            .env("DATABASE_URL", &self.url)
            .env("RELIEF_BIND", format!("127.0.0.1:{}", self.port))
            .env("RELIEF_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RELIEF_CHECKPOINT_INTERVAL_SECS", "1")
            .env("RELIEF_WORKERS", "2")
            .env("RELIEF_DB_MAX_CONNECTIONS", "8")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin));
        self.child = Some(child);
        self.starts += 1;
    }

    /// SIGKILL (`Child::kill` on Unix), then reaps the process.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the service and kills it a random moment later, within its start-up time. Returns
    /// whether it was killed before it was ready.
    async fn kill_soon(&mut self, client: &reqwest::Client, rng: &mut StdRng) -> bool {
        self.spawn();
        tokio::time::sleep(Duration::from_millis(rng.gen_range(10..=500))).await;
        let url = format!("http://127.0.0.1:{}/readyz", self.port);
        let ready = client
            .get(&url)
            .timeout(Duration::from_millis(200))
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK);
        self.kill();
        !ready
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("relief.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Starts the service and waits until `/readyz` answers 200. A start that fails because the
    /// port was taken is repeated on another port; any other failed start fails the test.
    async fn start(&mut self, client: &reqwest::Client, rng: &mut StdRng) {
        for _ in 0..5 {
            self.spawn();
            let deadline = Instant::now() + Duration::from_secs(120);
            let url = format!("http://127.0.0.1:{}/readyz", self.port);
            loop {
                if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                    self.child = None;
                    let log = self.log_tail();
                    assert!(
                        log.contains("cannot listen"),
                        "relief exited at start ({status}):\n{log}"
                    );
                    self.port = pick_port(rng);
                    *self.base.write().unwrap() = format!("http://127.0.0.1:{}", self.port);
                    break;
                }
                if let Ok(r) = client.get(&url).send().await {
                    if r.status() == StatusCode::OK {
                        return;
                    }
                }
                assert!(
                    Instant::now() < deadline,
                    "relief was not ready within 120 s:\n{}",
                    self.log_tail()
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        panic!("no free port for relief");
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------------------------------------
// Clients

/// What the clients share: the service's address (it may move), tokens, the set-up's ids, and
/// counters for the report.
struct Ctx {
    client: reqwest::Client,
    base: Arc<RwLock<String>>,
    stop: AtomicBool,
    /// Tries whose outcome the client did not learn (connection lost, 503).
    unknown: AtomicU64,
    /// Answers replayed from an idempotency key.
    replays: AtomicU64,
    /// Requests answered only after a try without an answer, and of those the ones whose lost
    /// try had taken effect: replayed from their key, or a transition found already made.
    in_doubt: AtomicU64,
    in_doubt_done: AtomicU64,
    seed: u64,
    fm: String,
    ap: String,
    funds: Vec<String>,
    household: String,
}

struct Reply {
    status: StatusCode,
    body: Value,
    replayed: bool,
    /// Whether an earlier try of this request ended without an answer: it may have taken effect.
    after_unknown: bool,
}

/// Sends a request until an answer arrives. A broken connection, an answer cut short or a 503
/// leave the outcome unknown: the same request (same body, same key) is sent again.
async fn send(
    ctx: &Ctx,
    method: Method,
    path: &str,
    token: Option<&str>,
    key: Option<&str>,
    body: Option<&Value>,
) -> Reply {
    let started = Instant::now();
    let mut after_unknown = false;
    loop {
        let base = ctx.base.read().unwrap().clone();
        let mut rb = ctx
            .client
            .request(method.clone(), format!("{base}{path}"))
            .timeout(Duration::from_secs(60));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(k) = key {
            rb = rb.header("Idempotency-Key", k);
        }
        if let Some(b) = body {
            rb = rb.json(b);
        }
        if let Ok(r) = rb.send().await {
            let status = r.status();
            let replayed = r.headers().contains_key("idempotent-replayed");
            if let Ok(bytes) = r.bytes().await {
                if status != StatusCode::SERVICE_UNAVAILABLE {
                    if replayed {
                        ctx.replays.fetch_add(1, Ordering::Relaxed);
                    }
                    if after_unknown {
                        ctx.in_doubt.fetch_add(1, Ordering::Relaxed);
                        if replayed {
                            ctx.in_doubt_done.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    return Reply {
                        status,
                        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                        replayed,
                        after_unknown,
                    };
                }
            }
        }
        after_unknown = true;
        ctx.unknown.fetch_add(1, Ordering::Relaxed);
        assert!(
            started.elapsed() < RETRY_FOR,
            "{method} {path}: no answer for {RETRY_FOR:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn expect(reply: Reply, status: u16, what: &str) -> Value {
    assert_eq!(reply.status.as_u16(), status, "{what}: {}", reply.body);
    reply.body
}

/// An acknowledged donation, as the client recorded it.
#[derive(Debug)]
struct Donation {
    key: String,
    id: String,
    fund: String,
    receipt_no: String,
    /// (asset, amount in minor units): đồng, or grams of rice.
    asset: &'static str,
    amount: i64,
}

/// A disbursement lifecycle the client saw to its end: paid or cancelled.
#[derive(Debug)]
struct Payout {
    id: String,
    fund: String,
    amount: i64,
    status: &'static str,
}

fn rice(grams: i64) -> String {
    format!("{}.{:03}", grams / 1000, grams % 1000)
}

/// Records received donations, cash in đồng or rice in kind, each with a new key; now and then
/// sends an acknowledged one again, as a client that missed the answer would.
async fn donor(ctx: Arc<Ctx>, n: u64) -> Vec<Donation> {
    let mut rng = StdRng::seed_from_u64(ctx.seed.wrapping_mul(31).wrapping_add(n));
    let mut done = Vec::new();
    let mut i = 0;
    while !ctx.stop.load(Ordering::Relaxed) {
        i += 1;
        let fund = ctx.funds[rng.gen_range(0..ctx.funds.len())].clone();
        let (asset, amount, body) = if rng.gen_bool(0.2) {
            let grams = rng.gen_range(1..=200_000);
            let line = json!({"asset": "RICE_KG", "amount": rice(grams),
                              "value_vnd": (grams * 20).to_string()});
            let body = json!({"fund_id": fund, "status": "received", "channel": "in_kind",
                              "lines": [line]});
            ("RICE_KG", grams, body)
        } else {
            let vnd = rng.gen_range(1..=5_000_000);
            let line = json!({"asset": "VND", "amount": vnd.to_string()});
            let body = json!({"fund_id": fund, "status": "received", "channel": "cash",
                              "lines": [line]});
            ("VND", vnd, body)
        };
        let key = format!("crash-{}-donor{n}-{i}", ctx.seed);
        let post = || {
            send(
                &ctx,
                Method::POST,
                "/v1/donations",
                Some(&ctx.fm),
                Some(&key),
                Some(&body),
            )
        };
        let d = expect(post().await, 201, &key).await;
        if rng.gen_bool(0.1) {
            let again = post().await;
            assert!(again.replayed, "{key} sent again was not replayed");
            assert_eq!(
                expect(again, 201, &key).await,
                d,
                "{key} replayed otherwise"
            );
        }
        done.push(Donation {
            id: d["id"].as_str().unwrap().to_owned(),
            receipt_no: d["receipt_no"].as_str().unwrap().to_owned(),
            key,
            fund,
            asset,
            amount,
        });
    }
    done
}

/// A transition of a disbursement (`approve`, `pay`, `cancel`) that must end in `want`. Without a
/// key, a repeat of a transition that took effect before a kill is refused by the state machine
/// (409 `invalid_transition`); the disbursement is then read back to confirm it.
async fn transition(
    ctx: &Ctx,
    id: &str,
    action: &str,
    token: &str,
    key: Option<&str>,
    body: Value,
    want: &str,
) {
    let path = format!("/v1/disbursements/{id}/{action}");
    let r = send(ctx, Method::POST, &path, Some(token), key, Some(&body)).await;
    if r.status == StatusCode::OK {
        assert_eq!(r.body["status"], want, "{action} {id}: {}", r.body);
        return;
    }
    assert!(
        r.after_unknown
            && r.status == StatusCode::CONFLICT
            && r.body["code"] == "invalid_transition",
        "{action} {id}: {} {}",
        r.status,
        r.body
    );
    let path = format!("/v1/disbursements/{id}");
    let d = expect(
        send(ctx, Method::GET, &path, Some(token), None, None).await,
        200,
        &path,
    )
    .await;
    assert_eq!(
        d["status"], want,
        "{action} {id} repeated after a kill: {d}"
    );
    ctx.in_doubt_done.fetch_add(1, Ordering::Relaxed);
}

/// Disbursement lifecycles by hand: proposed by the fund manager, approved by the approver
/// (which reserves), then paid (which posts) or cancelled (which releases).
async fn payer(ctx: Arc<Ctx>, n: u64) -> Vec<Payout> {
    let mut rng = StdRng::seed_from_u64(ctx.seed.wrapping_mul(37).wrapping_add(n));
    let mut done = Vec::new();
    let mut i = 0;
    while !ctx.stop.load(Ordering::Relaxed) {
        i += 1;
        let fund = ctx.funds[rng.gen_range(0..ctx.funds.len())].clone();
        let amount: i64 = rng.gen_range(1_000..=300_000);
        let category = ["food", "water", "medicine"][rng.gen_range(0..3)];
        let body = json!({
            "fund_id": fund, "household_id": ctx.household, "purpose": "Hỗ trợ khẩn cấp",
            "lines": [{"category": category, "asset": "VND", "amount": amount.to_string()}],
        });
        let key = format!("crash-{}-payer{n}-{i}", ctx.seed);
        let r = send(
            &ctx,
            Method::POST,
            "/v1/disbursements",
            Some(&ctx.fm),
            Some(&key),
            Some(&body),
        )
        .await;
        let d = expect(r, 201, &key).await;
        assert_eq!(d["status"], "proposed", "{d}");
        let id = d["id"].as_str().unwrap().to_owned();
        transition(&ctx, &id, "approve", &ctx.ap, None, json!({}), "approved").await;
        let status = if rng.gen_bool(0.75) {
            let pay = json!({"method": "cash", "received_by": "Trần Thị Bình"});
            let pay_key = format!("{key}-pay");
            transition(&ctx, &id, "pay", &ctx.fm, Some(&pay_key), pay, "paid").await;
            "paid"
        } else {
            let cancel = json!({"reason": "đề xuất trùng"});
            transition(&ctx, &id, "cancel", &ctx.fm, None, cancel, "cancelled").await;
            "cancelled"
        };
        done.push(Payout {
            id,
            fund,
            amount,
            status,
        });
    }
    done
}

// ---------------------------------------------------------------------------------------------
// Set-up

async fn login(ctx: &Ctx, username: &str, password: &str) -> String {
    let body = json!({"username": username, "password": password});
    let r = send(ctx, Method::POST, "/v1/auth/token", None, None, Some(&body)).await;
    expect(r, 200, "login").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn post(ctx: &Ctx, path: &str, token: &str, body: Value) -> Value {
    let r = send(ctx, Method::POST, path, Some(token), None, Some(&body)).await;
    expect(r, 201, path).await
}

/// Users, two funds of Phường Quy Nhơn with an opening balance each, and a household.
async fn set_up(ctx: &mut Ctx) {
    let admin = login(ctx, "admin", ADMIN_PASSWORD).await;
    for (username, role) in [("gialai.fm", "fund_manager"), ("gialai.ap", "approver")] {
        let body = json!({"username": username, "password": PASSWORD, "role": role,
                          "display_name": username, "scope_unit": "P52"});
        post(ctx, "/v1/users", &admin, body).await;
    }
    ctx.fm = login(ctx, "gialai.fm", PASSWORD).await;
    ctx.ap = login(ctx, "gialai.ap", PASSWORD).await;
    for name in [
        "Quỹ cứu trợ phường Quy Nhơn",
        "Quỹ Hội Chữ thập đỏ Quy Nhơn",
    ] {
        let body = json!({"unit": QN, "name": name, "custodian": "Ủy ban MTTQ Việt Nam",
                          "custodian_kind": "fatherland_front"});
        let fund = post(ctx, "/v1/funds", &ctx.fm, body).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let body = json!({"lines": [{"asset": "VND", "amount": OPENING_VND.to_string()}]});
        post(
            ctx,
            &format!("/v1/funds/{fund}/opening-balances"),
            &admin,
            body,
        )
        .await;
        ctx.funds.push(fund);
    }
    let body = json!({
        "unit": QN, "head_name": "Trần Thị Bình", "head_birth_year": 1975, "head_sex": "female",
        "address": "Tổ 5, khu phố 2", "poverty_status": "poor", "members": [],
    });
    ctx.household = post(ctx, "/v1/households", &ctx.fm, body).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
}

// ---------------------------------------------------------------------------------------------
// The run

async fn crash_run(backend: Backend) {
    let settings = Settings::from_env();
    let label = format!("{backend:?}");
    eprintln!(
        "crash test {label}: seed {} (RELIEF_CRASH_SEED), {} kills, binary {}",
        settings.seed, settings.kills, settings.bin
    );
    let scratch = Scratch::new(backend);
    let mut rng = StdRng::seed_from_u64(settings.seed);
    let port = pick_port(&mut rng);
    let base = Arc::new(RwLock::new(format!("http://127.0.0.1:{port}")));
    let client = reqwest::Client::new();
    let mut service = Service {
        bin: settings.bin.clone(),
        url: scratch.url.clone(),
        dir: scratch.dir.clone(),
        port,
        base: base.clone(),
        child: None,
        starts: 0,
    };

    // The first start on an empty database (migrations, the units, the rule sets, the first
    // admin, the keys) is killed three times at random moments before it is let finish.
    let mut early_kills = 0;
    for _ in 0..3 {
        early_kills += u32::from(service.kill_soon(&client, &mut rng).await);
    }
    service.start(&client, &mut rng).await;

    let mut ctx = Ctx {
        client: client.clone(),
        base,
        stop: AtomicBool::new(false),
        unknown: AtomicU64::new(0),
        replays: AtomicU64::new(0),
        in_doubt: AtomicU64::new(0),
        in_doubt_done: AtomicU64::new(0),
        seed: settings.seed,
        fm: String::new(),
        ap: String::new(),
        funds: Vec::new(),
        household: String::new(),
    };
    set_up(&mut ctx).await;
    let ctx = Arc::new(ctx);

    let donors: Vec<_> = (0..settings.donors)
        .map(|n| tokio::spawn(donor(ctx.clone(), n)))
        .collect();
    let payers: Vec<_> = (0..settings.payers)
        .map(|n| tokio::spawn(payer(ctx.clone(), n)))
        .collect();

    // The killer: let the service run a random while under load, SIGKILL it, start it again.
    let load_started = Instant::now();
    for _ in 0..settings.kills {
        let up = rng.gen_range(100..=settings.max_up_ms);
        tokio::time::sleep(Duration::from_millis(up)).await;
        // A client that stopped on its own failed a check: report it now (below).
        if donors.iter().any(|h| h.is_finished()) || payers.iter().any(|h| h.is_finished()) {
            break;
        }
        service.kill();
        // Now and then the restart itself is killed too, while it opens the database.
        if rng.gen_bool(0.25) {
            early_kills += u32::from(service.kill_soon(&client, &mut rng).await);
        }
        service.start(&client, &mut rng).await;
    }
    // Let the clients finish what they were doing on a running service.
    ctx.stop.store(true, Ordering::Relaxed);
    let mut given = Vec::new();
    for h in donors {
        given.extend(h.await.expect("a donor client failed"));
    }
    let mut paid_out = Vec::new();
    for h in payers {
        paid_out.extend(h.await.expect("a payer client failed"));
    }
    let load_secs = load_started.elapsed().as_secs();

    check_through_api(&ctx, &given, &paid_out).await;
    // A last kill at rest, then the command-line verification and the database itself.
    service.kill();
    let out = Command::new(&settings.bin)
        .args(["ledger", "verify"])
        .env_clear()
        .current_dir(&scratch.dir)
        .env("DATABASE_URL", &scratch.url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("2 funds verified"),
        "relief ledger verify: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    check_database(&scratch.url, &ctx, &given, &paid_out);

    let paid = paid_out.iter().filter(|p| p.status == "paid").count();
    eprintln!(
        "crash test {label}: {} kills under load and {early_kills} during start-up ({} starts \
         in all) over {load_secs} s; \
         {} donations, {} disbursements ({paid} paid) acknowledged; {} tries without an answer; \
         {} requests in doubt, of which {} had taken effect before the kill; {} answers \
         replayed in all; all checks held",
        settings.kills,
        service.starts,
        given.len(),
        paid_out.len(),
        ctx.unknown.load(Ordering::Relaxed),
        ctx.in_doubt.load(Ordering::Relaxed),
        ctx.in_doubt_done.load(Ordering::Relaxed),
        ctx.replays.load(Ordering::Relaxed),
    );
}

// ---------------------------------------------------------------------------------------------
// Checks

/// Per fund and asset, what the ledger must hold: the opening balance, plus the donations, less
/// the payments.
fn expected_posted(
    ctx: &Ctx,
    given: &[Donation],
    paid_out: &[Payout],
) -> BTreeMap<(String, String), i64> {
    let mut want = BTreeMap::new();
    for f in &ctx.funds {
        want.insert((f.clone(), "VND".to_owned()), OPENING_VND);
    }
    for d in given {
        *want
            .entry((d.fund.clone(), d.asset.to_owned()))
            .or_insert(0) += d.amount;
    }
    for p in paid_out.iter().filter(|p| p.status == "paid") {
        *want.entry((p.fund.clone(), "VND".to_owned())).or_insert(0) -= p.amount;
    }
    want
}

/// The service's own view: every chain verifies (with balances against postings and
/// reservations against holds), holds one entry per acknowledged posting, and the balances are
/// what the clients were told.
async fn check_through_api(ctx: &Ctx, given: &[Donation], paid_out: &[Payout]) {
    let want = expected_posted(ctx, given, paid_out);
    for fund in &ctx.funds {
        let path = format!("/v1/funds/{fund}/ledger/verify");
        let v = expect(
            send(ctx, Method::GET, &path, Some(&ctx.fm), None, None).await,
            200,
            &path,
        )
        .await;
        let entries = 1
            + given.iter().filter(|d| &d.fund == fund).count()
            + paid_out
                .iter()
                .filter(|p| &p.fund == fund && p.status == "paid")
                .count();
        assert_eq!(v["ok"], true, "{v}");
        assert_eq!(v["entries_checked"], json!(entries), "{v}");

        let path = format!("/v1/funds/{fund}/balances");
        let b = expect(
            send(ctx, Method::GET, &path, Some(&ctx.fm), None, None).await,
            200,
            &path,
        )
        .await;
        for x in b["balances"].as_array().unwrap() {
            let asset = x["asset"].as_str().unwrap();
            let show = |n: i64| {
                if asset == "RICE_KG" {
                    rice(n)
                } else {
                    n.to_string()
                }
            };
            let posted = want[&(fund.clone(), asset.to_owned())];
            assert_eq!(x["posted"], json!(show(posted)), "{fund} {asset}: {b}");
            assert_eq!(x["reserved"], json!(show(0)), "{fund} {asset}: {b}");
        }
    }
}

fn read<T: Send + 'static>(
    db: &storage::Db,
    f: impl FnOnce(&mut storage::DbConnection) -> QueryResult<T> + Send + 'static,
) -> T {
    db.read(move |c| Ok(f(c)?)).unwrap()
}

/// An entry: id, fund, seq, reference type and id, hash.
type EntryRow = (String, String, i64, Option<String>, Option<String>, String);
/// A hold: account, amount, status, reference type and id, entry.
type HoldRow = (
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);
/// A donation: id, fund, status, receipt year, seq and number, entry.
type DonationRow = (
    String,
    String,
    String,
    Option<i32>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

/// The database read directly, independently of the service's verification.
fn check_database(url: &str, ctx: &Ctx, given: &[Donation], paid_out: &[Payout]) {
    let db = storage::Db::connect(url, &storage::DbOptions::default()).unwrap();

    // Entries and postings: no posting without its entry, every entry with two or more postings
    // that balance per asset, and accounts equal to their postings.
    let entry_rows: Vec<EntryRow> = read(&db, |c| {
        entries::table
            .select((
                entries::id,
                entries::fund_id,
                entries::seq,
                entries::ref_type,
                entries::ref_id,
                entries::hash,
            ))
            .load(c)
    });
    let posting_rows: Vec<(String, String, String, i64)> = read(&db, |c| {
        postings::table
            .select((
                postings::entry_id,
                postings::account_id,
                postings::asset,
                postings::amount,
            ))
            .load(c)
    });
    let entry_ids: BTreeSet<&str> = entry_rows.iter().map(|e| e.0.as_str()).collect();
    let mut legs: BTreeMap<&str, usize> = BTreeMap::new();
    let mut per_asset: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    let mut per_account: BTreeMap<&str, i64> = BTreeMap::new();
    for (entry, account, asset, amount) in &posting_rows {
        assert!(
            entry_ids.contains(entry.as_str()),
            "posting of no entry {entry}"
        );
        *legs.entry(entry).or_insert(0) += 1;
        *per_asset.entry((entry, asset)).or_insert(0) += amount;
        *per_account.entry(account).or_insert(0) += amount;
    }
    for e in &entry_rows {
        assert!(
            legs.get(e.0.as_str()).copied().unwrap_or(0) >= 2,
            "entry {} has fewer than 2 postings",
            e.0
        );
    }
    for ((entry, asset), sum) in &per_asset {
        assert_eq!(*sum, 0, "entry {entry} does not balance in {asset}");
    }
    // Seqs run 1..=n per fund, and every signed checkpoint names a hash of the chain.
    let mut seqs: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    let mut hashes: BTreeMap<(&str, i64), &str> = BTreeMap::new();
    for (_, fund, seq, _, _, hash) in &entry_rows {
        seqs.entry(fund).or_default().push(*seq);
        hashes.insert((fund, *seq), hash);
    }
    for (fund, mut s) in seqs {
        s.sort_unstable();
        assert!(
            s.iter().copied().eq(1..=i64::try_from(s.len()).unwrap()),
            "fund {fund}: seqs {s:?}"
        );
    }
    let cps: Vec<(String, i64, String)> = read(&db, |c| {
        checkpoints::table
            .select((checkpoints::fund_id, checkpoints::seq, checkpoints::hash))
            .load(c)
    });
    for (fund, seq, hash) in &cps {
        assert_eq!(
            hashes.get(&(fund.as_str(), *seq)).copied(),
            Some(hash.as_str()),
            "checkpoint {fund} {seq}"
        );
    }

    // Accounts: posted equals the postings, reserved equals the pending holds, and the totals
    // are what the clients were told.
    let account_rows: Vec<(String, String, String, String, i64, i64)> = read(&db, |c| {
        accounts::table
            .select((
                accounts::id,
                accounts::fund_id,
                accounts::kind,
                accounts::asset,
                accounts::posted,
                accounts::reserved,
            ))
            .load(c)
    });
    let hold_rows: Vec<HoldRow> = read(&db, |c| {
        holds::table
            .select((
                holds::account_id,
                holds::amount,
                holds::status,
                holds::ref_type,
                holds::ref_id,
                holds::entry_id,
            ))
            .load(c)
    });
    let mut pending: BTreeMap<&str, i64> = BTreeMap::new();
    for h in hold_rows.iter().filter(|h| h.2 == "pending") {
        *pending.entry(&h.0).or_insert(0) += h.1;
    }
    let mut fund_totals: BTreeMap<(String, String), i64> = BTreeMap::new();
    for (id, fund, kind, asset, posted, reserved) in &account_rows {
        assert_eq!(
            *posted,
            per_account.get(id.as_str()).copied().unwrap_or(0),
            "account {id} posted"
        );
        assert_eq!(
            *reserved,
            pending.get(id.as_str()).copied().unwrap_or(0),
            "account {id} reserved"
        );
        if kind == "fund" {
            *fund_totals
                .entry((fund.clone(), asset.clone()))
                .or_insert(0) += posted;
        }
    }
    assert_eq!(
        fund_totals,
        expected_posted(ctx, given, paid_out),
        "fund balances"
    );

    // Donations: exactly the acknowledged ones, each received, with its lines, its one entry and
    // its one audit event, under the receipt number the client was given.
    let donation_rows: Vec<DonationRow> = read(&db, |c| {
        donations::table
            .select((
                donations::id,
                donations::fund_id,
                donations::status,
                donations::receipt_year,
                donations::receipt_seq,
                donations::receipt_no,
                donations::entry_id,
            ))
            .load(c)
    });
    let acknowledged: BTreeMap<&str, &Donation> =
        given.iter().map(|d| (d.id.as_str(), d)).collect();
    assert_eq!(
        acknowledged.len(),
        given.len(),
        "one id acknowledged for two keys"
    );
    let stored: BTreeSet<&str> = donation_rows.iter().map(|d| d.0.as_str()).collect();
    let missing: Vec<_> = given
        .iter()
        .filter(|d| !stored.contains(d.id.as_str()))
        .map(|d| &d.key)
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged donations lost: {missing:?}"
    );
    let extra: Vec<_> = stored
        .iter()
        .filter(|id| !acknowledged.contains_key(*id))
        .collect();
    assert!(
        extra.is_empty(),
        "donations nobody was told of (duplicates): {extra:?}"
    );
    let lines: Vec<(String, String, i64)> = read(&db, |c| {
        donation_lines::table
            .select((
                donation_lines::donation_id,
                donation_lines::asset,
                donation_lines::amount,
            ))
            .load(c)
    });
    let mut lines_of: BTreeMap<&str, Vec<(&str, i64)>> = BTreeMap::new();
    for (d, asset, amount) in &lines {
        lines_of.entry(d).or_default().push((asset, *amount));
    }
    let mut entries_of: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for (id, _, _, ref_type, ref_id, _) in &entry_rows {
        if let (Some(t), Some(r)) = (ref_type, ref_id) {
            entries_of.entry((t, r)).or_default().push(id);
        }
    }
    let audits: Vec<(String, Option<String>)> = read(&db, |c| {
        audit_events::table
            .select((audit_events::action, audit_events::entity_id))
            .load(c)
    });
    let mut audited: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (action, entity) in &audits {
        if let Some(e) = entity {
            *audited.entry((action, e)).or_insert(0) += 1;
        }
    }
    let mut receipts: BTreeMap<(&str, i32), Vec<i64>> = BTreeMap::new();
    for (id, fund, status, year, seq, receipt_no, entry_id) in &donation_rows {
        let d = acknowledged[id.as_str()];
        assert_eq!(
            (fund, status.as_str()),
            (&d.fund, "received"),
            "donation {id}"
        );
        assert_eq!(
            receipt_no.as_deref(),
            Some(d.receipt_no.as_str()),
            "donation {id}"
        );
        let (year, seq) = (year.unwrap(), seq.unwrap());
        assert_eq!(d.receipt_no, format!("BN-{year}-{seq:06}"), "donation {id}");
        receipts.entry((fund, year)).or_default().push(seq);
        assert_eq!(
            lines_of.get(id.as_str()),
            Some(&vec![(d.asset, d.amount)]),
            "donation {id} lines"
        );
        let entry = entries_of.get(&("donation", id.as_str()));
        assert_eq!(
            entry.map(Vec::len),
            Some(1),
            "donation {id}: entries {entry:?}"
        );
        assert_eq!(entry.map(|e| e[0]), entry_id.as_deref(), "donation {id}");
        assert_eq!(
            audited.get(&("POST /v1/donations", id.as_str())),
            Some(&1),
            "donation {id}: audit events"
        );
    }
    assert_eq!(
        entries_of
            .iter()
            .filter(|((t, _), _)| *t == "donation")
            .count(),
        donation_rows.len(),
        "entries of unknown donations"
    );

    // Receipt numbers: gapless from 1 per fund and year, and the counter at the last one.
    let counters: Vec<(String, i32, i64)> = read(&db, |c| {
        receipt_counters::table
            .select((
                receipt_counters::fund_id,
                receipt_counters::year,
                receipt_counters::last_seq,
            ))
            .load(c)
    });
    assert_eq!(
        counters.len(),
        receipts.len(),
        "receipt counters {counters:?}"
    );
    for (fund, year, last) in &counters {
        let mut s = receipts.remove(&(fund.as_str(), *year)).unwrap_or_default();
        s.sort_unstable();
        assert!(
            s.iter().copied().eq(1..=*last),
            "fund {fund} {year}: receipt seqs {s:?}, counter {last}"
        );
    }

    // Disbursements: exactly the proposed ones, each as its client left it; a paid one has one
    // entry and its holds posted, a cancelled one none and its holds voided; one event each.
    let payout_rows: Vec<(String, String, String, i64)> = read(&db, |c| {
        disbursements::table
            .select((
                disbursements::id,
                disbursements::fund_id,
                disbursements::status,
                disbursements::total_vnd,
            ))
            .load(c)
    });
    let seen: BTreeMap<&str, &Payout> = paid_out.iter().map(|p| (p.id.as_str(), p)).collect();
    assert_eq!(
        seen.len(),
        paid_out.len(),
        "one disbursement acknowledged twice"
    );
    assert_eq!(
        payout_rows.len(),
        paid_out.len(),
        "disbursements stored against acknowledged"
    );
    let events: Vec<(String, String)> = read(&db, |c| {
        payout_events::table
            .select((payout_events::subject_id, payout_events::action))
            .load(c)
    });
    let mut events_of: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (s, a) in &events {
        events_of.entry(s).or_default().push(a);
    }
    let mut holds_of: BTreeMap<&str, Vec<(&str, Option<&str>)>> = BTreeMap::new();
    for (_, _, status, ref_type, ref_id, entry) in &hold_rows {
        if ref_type.as_deref() == Some("disbursement") {
            if let Some(r) = ref_id {
                holds_of
                    .entry(r)
                    .or_default()
                    .push((status, entry.as_deref()));
            }
        }
    }
    for (id, fund, status, total) in &payout_rows {
        let p = seen
            .get(id.as_str())
            .unwrap_or_else(|| panic!("disbursement {id} nobody was told of"));
        assert_eq!(
            (fund, status.as_str(), *total),
            (&p.fund, p.status, p.amount),
            "disbursement {id}"
        );
        let mut ev = events_of.remove(id.as_str()).unwrap_or_default();
        ev.sort_unstable();
        let mut want = vec!["approved", "proposed", p.status];
        want.sort_unstable();
        assert_eq!(ev, want, "disbursement {id}: events");
        let entry = entries_of.get(&("disbursement", id.as_str()));
        let h = holds_of.get(id.as_str()).cloned().unwrap_or_default();
        assert!(!h.is_empty(), "disbursement {id}: no hold");
        if p.status == "paid" {
            assert_eq!(entry.map(Vec::len), Some(1), "disbursement {id}: entries");
            for (status, e) in h {
                assert_eq!(
                    (status, e),
                    ("posted", entry.map(|e| e[0])),
                    "disbursement {id}: hold"
                );
            }
        } else {
            assert_eq!(entry, None, "cancelled disbursement {id} was posted");
            assert!(
                h.iter().all(|(s, e)| *s == "voided" && e.is_none()),
                "disbursement {id}: holds {h:?}"
            );
        }
    }

    // No idempotency key left claimed without its answer.
    let claimed: Vec<(String, i32)> = read(&db, |c| {
        idempotency_keys::table
            .select((idempotency_keys::key, idempotency_keys::status))
            .load(c)
    });
    let unanswered: Vec<_> = claimed.iter().filter(|(_, s)| *s == 0).collect();
    assert!(
        unanswered.is_empty(),
        "keys claimed without an answer: {unanswered:?}"
    );
}
