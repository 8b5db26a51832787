//! `relief-bench`: drives the real release binary over HTTP with concurrent clients and reports
//! throughput, p50/p90/p99 latency and the server's peak memory, beside baselines without the
//! service (pgbench running the same statements; the storage crate without HTTP). Results go
//! in docs/PERFORMANCE.md; nothing here asserts a time.
//!
//! Scenarios (`--scenarios`, all by default):
//! - `intake`: donations (one cash line, an Idempotency-Key each) spread over 100 funds;
//! - `hot`: donations to one fund;
//! - `baseline`: the same donation by pgbench (PostgreSQL) and through the storage crate
//!   without HTTP (both backends), spread and hot; with `--pgledger-sql`, also pgledger's
//!   transfer function by pgbench (PostgreSQL);
//! - `lifecycle`: disbursements proposed, approved by another user and paid, over the funds;
//! - `reads`: fund balances, and public receipt lookups (no login);
//! - `import`: one bank statement of `--statement-lines` lines;
//! - `full`: `intake` again once the ledger holds `--entries` more entries, and intake on the
//!   fund that holds them;
//! - `export`: that fund exported as NDJSON and CSV (lines per second, server peak memory);
//! - `verify`: its chain verified.

mod baseline;
mod load;

use anyhow::{bail, Context};
use clap::Parser;
use diesel::connection::SimpleConnection;
use diesel::Connection;
use domain::ledger::{AccountKind, EntryKind, Leg};
use futures_util::StreamExt;
use load::{Stats, Stop};
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The service's allocator, so that the no-HTTP baseline runs the storage code as the service does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SCENARIOS: &[&str] = &[
    "intake",
    "hot",
    "baseline",
    "lifecycle",
    "reads",
    "import",
    "full",
    "export",
    "verify",
];

/// Benchmarks of the relief ledger service.
#[derive(Parser)]
#[command(name = "relief-bench", version, about)]
struct Args {
    /// `sqlite` or `postgres`.
    #[arg(long, default_value = "sqlite")]
    backend: String,
    /// Comma-separated scenarios: intake, hot, baseline, lifecycle, reads, import, full,
    /// export, verify (default: all).
    #[arg(long, value_delimiter = ',')]
    scenarios: Vec<String>,
    /// Concurrent clients of the load scenarios (and of the baselines).
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Operations per load scenario (instead of `--seconds`).
    #[arg(long)]
    requests: Option<u64>,
    /// Seconds per load scenario.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Entries written to one fund before `full`, `export` and `verify`.
    #[arg(long, default_value_t = 1_000_000)]
    entries: u64,
    /// Lines of the imported bank statement.
    #[arg(long, default_value_t = 100_000)]
    statement_lines: u64,
    /// Every scenario with tiny sizes (for CI: the tool keeps working; no timing is checked).
    #[arg(long)]
    smoke: bool,
    /// The service binary (build it with `cargo build --release`).
    #[arg(long, default_value = "target/release/relief")]
    relief: String,
    /// A PostgreSQL URL whose server may create a scratch database (postgres backend).
    #[arg(
        long,
        env = "BENCH_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pg_url: String,
    /// Print only the JSON result.
    #[arg(long)]
    json: bool,
    /// pgledger's SQL files, loaded in this order into the scratch database for the
    /// `baseline_pgledger_*` rows (postgres backend; pgledger is not part of this repository).
    #[arg(long, env = "BENCH_PGLEDGER_SQL", value_delimiter = ',')]
    pgledger_sql: Vec<std::path::PathBuf>,
}

impl Args {
    fn wants(&self, scenario: &str) -> bool {
        self.scenarios.is_empty() || self.scenarios.iter().any(|s| s == scenario)
    }

    fn stop(&self) -> Stop {
        match self.requests {
            Some(n) => Stop::Count(n),
            None => Stop::Time(Duration::from_secs(self.seconds)),
        }
    }
}

/// Funds that donations are spread over.
const SPREAD: usize = 100;
const USER_PASSWORD: &str = "bench-user-password-long";
/// The commune of the bench's funds and households, in the province the bench users manage.
const UNIT: &str = "C21583";
const PROVINCE: &str = "P52";

const PASSWORD: &str = "bench-admin-password";

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// The server's peak resident memory so far, in KiB (`VmHWM`).
    fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmHWM in /proc status")
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn start(relief: &str, database_url: &str) -> anyhow::Result<Server> {
    let port = free_port()?;
    let child = Command::new(relief)
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("RELIEF_BIND", format!("127.0.0.1:{port}"))
        .env("RELIEF_ADMIN_PASSWORD", PASSWORD)
        .env("RELIEF_CHECKPOINT_INTERVAL_SECS", "0")
        // The public routes keep their per-address limit; the bench is one address that stands
        // for many, so its bucket is raised rather than the limit removed.
        .env("RELIEF_PUBLIC_RATE_PER_SEC", "1000000")
        .env("RELIEF_PUBLIC_BURST", "1000000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {relief}; build it with cargo build --release"))?;
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(r) = client.get(format!("{}/readyz", server.base)).send().await {
            if r.status().is_success() {
                return Ok(server);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the service did not become ready")
}

/// A scratch database: a SQLite file or a new PostgreSQL database, dropped afterwards.
struct Scratch {
    url: String,
    drop_pg: Option<(String, String)>,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        match &self.drop_pg {
            Some((admin, name)) => {
                if let Ok(mut c) = diesel::PgConnection::establish(admin) {
                    let _ =
                        c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                }
            }
            None => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", self.url));
                }
            }
        }
    }
}

fn scratch(args: &Args) -> anyhow::Result<Scratch> {
    let name = format!("relief_bench_{}", std::process::id());
    match args.backend.as_str() {
        "sqlite" => Ok(Scratch {
            url: std::env::temp_dir()
                .join(format!("{name}.db"))
                .to_string_lossy()
                .into_owned(),
            drop_pg: None,
        }),
        "postgres" => {
            let mut c = diesel::PgConnection::establish(&args.pg_url)
                .context("PostgreSQL is not reachable at --pg-url")?;
            c.batch_execute(&format!("CREATE DATABASE {name}"))?;
            let base = args
                .pg_url
                .rsplit_once('/')
                .map(|(b, _)| b)
                .unwrap_or(&args.pg_url);
            Ok(Scratch {
                url: format!("{base}/{name}"),
                drop_pg: Some((args.pg_url.clone(), name)),
            })
        }
        other => bail!("unknown backend {other}: sqlite or postgres"),
    }
}

/// Writes `n` donation-like entries to the fund, 1,000 per transaction.
fn seed(db: &storage::Db, fund: &str, actor: &str, n: u64) -> anyhow::Result<()> {
    let mut left = n;
    while left > 0 {
        let batch = left.min(1000);
        db.write(|c| {
            for i in 0..batch {
                let amount = i64::try_from(1000 + i % 97)
                    .map_err(|e| storage::StoreError::Internal(e.to_string()))?;
                storage::ledger::post(
                    c,
                    &storage::ledger::NewEntry {
                        fund_id: fund.to_owned(),
                        kind: EntryKind::Donation,
                        reason: "bench donation".into(),
                        actor_id: actor.to_owned(),
                        ref_type: None,
                        ref_id: None,
                        effective_at: storage::now_micros(),
                        legs: vec![
                            Leg::new(AccountKind::Fund, "VND", amount),
                            Leg::new(AccountKind::Donations, "VND", -amount),
                        ],
                    },
                )?;
            }
            Ok(())
        })?;
        left -= batch;
    }
    Ok(())
}

/// Streams a URL to its end; returns (lines, bytes, seconds).
async fn download(
    client: &reqwest::Client,
    url: &str,
    token: &str,
) -> anyhow::Result<(u64, u64, f64)> {
    let t = Instant::now();
    let r = client.get(url).bearer_auth(token).send().await?;
    if !r.status().is_success() {
        bail!("{url}: {}", r.status());
    }
    let (mut lines, mut bytes) = (0u64, 0u64);
    let mut body = r.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        bytes += u64::try_from(chunk.len())?;
        lines += u64::try_from(chunk.iter().filter(|b| **b == b'\n').count())?;
    }
    Ok((lines, bytes, t.elapsed().as_secs_f64()))
}

/// The API as the bench's users see it.
struct Api {
    client: reqwest::Client,
    base: String,
    admin: String,
    fm: String,
    approver: String,
}

impl Api {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// Sends a request and checks its status; returns the body as JSON (`Null` when not parsed).
async fn expect(rb: reqwest::RequestBuilder, want: u16, parse: bool) -> anyhow::Result<Value> {
    let r = rb.send().await?;
    let status = r.status().as_u16();
    if status != want {
        let body = r.text().await.unwrap_or_default();
        bail!("status {status} (wanted {want}): {body}");
    }
    if parse {
        Ok(r.json().await?)
    } else {
        r.bytes().await?;
        Ok(Value::Null)
    }
}

async fn login(
    client: &reqwest::Client,
    base: &str,
    user: &str,
    pw: &str,
) -> anyhow::Result<String> {
    let v = expect(
        client
            .post(format!("{base}/v1/auth/token"))
            .json(&json!({"username": user, "password": pw})),
        200,
        true,
    )
    .await
    .with_context(|| format!("login as {user}"))?;
    Ok(v["access_token"]
        .as_str()
        .context("no access_token")?
        .to_owned())
}

fn id_of(v: &Value) -> anyhow::Result<String> {
    Ok(v["id"]
        .as_str()
        .with_context(|| format!("no id in {v}"))?
        .to_owned())
}

impl Api {
    async fn new(client: reqwest::Client, base: String) -> anyhow::Result<Self> {
        let admin = login(&client, &base, "admin", PASSWORD).await?;
        let mut api = Self {
            client,
            base,
            admin: admin.clone(),
            fm: String::new(),
            approver: String::new(),
        };
        for (name, role) in [("bench.fm", "fund_manager"), ("bench.approver", "approver")] {
            expect(
                api.client
                    .post(api.url("/v1/users"))
                    .bearer_auth(&admin)
                    .json(&json!({
                        "username": name, "password": USER_PASSWORD, "display_name": name,
                        "role": role, "scope_unit": PROVINCE,
                    })),
                201,
                false,
            )
            .await
            .with_context(|| format!("create {name}"))?;
        }
        api.fm = login(&api.client, &api.base, "bench.fm", USER_PASSWORD).await?;
        api.approver = login(&api.client, &api.base, "bench.approver", USER_PASSWORD).await?;
        Ok(api)
    }

    async fn me(&self, token: &str) -> anyhow::Result<String> {
        id_of(
            &expect(
                self.client.get(self.url("/v1/me")).bearer_auth(token),
                200,
                true,
            )
            .await?,
        )
    }

    /// A new fund of the bench's commune, with a bank account when `account` is given.
    async fn fund(&self, name: &str, account: Option<&str>) -> anyhow::Result<Value> {
        let mut body = json!({"unit": UNIT, "name": name, "custodian": "bench",
                              "custodian_kind": "fatherland_front"});
        if let Some(a) = account {
            body["bank_accounts"] =
                json!([{"bank": "Vietcombank", "account_number": a, "account_name": "BENCH"}]);
        }
        expect(
            self.client
                .post(self.url("/v1/funds"))
                .bearer_auth(&self.fm)
                .json(&body),
            201,
            true,
        )
        .await
        .context("create a fund")
    }

    async fn funds(&self, n: usize, name: &str) -> anyhow::Result<Vec<String>> {
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            out.push(id_of(&self.fund(&format!("{name} {i}"), None).await?)?);
        }
        Ok(out)
    }
}

/// `POST /v1/donations`: one cash line, a fresh Idempotency-Key.
fn donation(api: &Api, fund: &str, amount: i64) -> reqwest::RequestBuilder {
    api.client
        .post(api.url("/v1/donations"))
        .bearer_auth(&api.fm)
        .header("Idempotency-Key", uuid::Uuid::now_v7().to_string())
        .json(
            &json!({"fund_id": fund, "status": "received", "channel": "cash",
                      "lines": [{"asset": "VND", "amount": amount.to_string()}]}),
        )
}

/// Donation intake by `clients` clients over `funds` (one fund: the hot-fund case).
async fn intake(api: &Arc<Api>, funds: &Arc<Vec<String>>, clients: usize, stop: Stop) -> Stats {
    let (api, funds) = (api.clone(), funds.clone());
    load::drive(clients, stop, move |_, i| {
        let fund = &funds[usize::try_from(i).unwrap_or(0) % funds.len()];
        let amount = 100_000 + i64::try_from(i % 1000).unwrap_or(0);
        let rb = donation(&api, fund, amount);
        async move { expect(rb, 201, false).await.map(drop) }
    })
    .await
}

/// Propose, approve (by the approver), pay: one lifecycle per operation, spread over `funds`.
async fn lifecycle(
    api: &Arc<Api>,
    funds: &Arc<Vec<String>>,
    households: &Arc<Vec<String>>,
    clients: usize,
    stop: Stop,
) -> Stats {
    let (api, funds, households) = (api.clone(), funds.clone(), households.clone());
    load::drive(clients, stop, move |_, i| {
        let n = usize::try_from(i).unwrap_or(0);
        let body = json!({
            "fund_id": funds[n % funds.len()], "household_id": households[n % households.len()],
            "purpose": "Hỗ trợ khẩn cấp",
            "lines": [{"category": "food", "asset": "VND", "amount": "100000"}],
        });
        let api = api.clone();
        async move {
            let d = expect(
                api.client
                    .post(api.url("/v1/disbursements"))
                    .bearer_auth(&api.fm)
                    .header("Idempotency-Key", uuid::Uuid::now_v7().to_string())
                    .json(&body),
                201,
                true,
            )
            .await
            .context("propose")?;
            let id = id_of(&d)?;
            expect(
                api.client
                    .post(api.url(&format!("/v1/disbursements/{id}/approve")))
                    .bearer_auth(&api.approver)
                    .json(&json!({})),
                200,
                false,
            )
            .await
            .context("approve")?;
            expect(
                api.client
                    .post(api.url(&format!("/v1/disbursements/{id}/pay")))
                    .bearer_auth(&api.fm)
                    .header("Idempotency-Key", uuid::Uuid::now_v7().to_string())
                    .json(&json!({"method": "cash", "received_by": "Bench"})),
                200,
                false,
            )
            .await
            .context("pay")?;
            Ok(())
        }
    })
    .await
}

/// A bank statement CSV of `n` credit lines, as a Vietnamese bank exports it.
fn statement(n: u64) -> String {
    let mut out = String::from(
        "STT,Ngày giao dịch,Số tham chiếu,Số tiền ghi có,Số tiền ghi nợ,Nội dung chi tiết\n",
    );
    for i in 1..=n {
        let day = 1 + i % 28;
        let amount = 100_000 + i % 100_000;
        out.push_str(&format!(
            "{i},{day:02}/09/2025,FT25{i:08},{amount},,Ung ho dong bao bi lu {i}\n"
        ));
    }
    out
}

/// The receipt year of a donation received now (Vietnamese time).
fn receipt_year() -> i32 {
    domain::donations::receipt_year(storage::now_micros()).unwrap_or(2026)
}

/// A measured row: its stats as JSON with extra fields.
fn row(stats: &Stats, extra: Value) -> Value {
    let mut v = stats.to_json();
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
    v
}

fn ratio(a: &Value, b: &Value) -> Value {
    match (a["per_sec"].as_f64(), b["per_sec"].as_f64()) {
        (Some(a), Some(b)) if b > 0.0 => json!((a / b * 100.0).round() / 100.0),
        _ => Value::Null,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    if args.smoke {
        args.clients = args.clients.min(4);
        args.requests = Some(args.requests.unwrap_or(40));
        args.entries = args.entries.min(300);
        args.statement_lines = args.statement_lines.min(300);
    }
    for s in &args.scenarios {
        if !SCENARIOS.contains(&s.as_str()) {
            bail!("unknown scenario {s}: one of {}", SCENARIOS.join(", "));
        }
    }
    let stop = args.stop();
    let clients = args.clients.max(1);
    let db_scratch = scratch(&args)?;
    let server = start(&args.relief, &db_scratch.url).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients * 2)
        .timeout(Duration::from_secs(600))
        .build()?;
    let api = Arc::new(Api::new(client.clone(), server.base.clone()).await?);
    let actor = api.me(&api.fm).await?;
    let admin_id = api.me(&api.admin).await?;
    let mut results = serde_json::Map::new();
    let mut ratios = serde_json::Map::new();
    let say = |name: &str, v: &Value| {
        if !args.json {
            print_row(name, v);
        }
    };
    if !args.json {
        println!(
            "backend {}  clients {}  {}",
            args.backend,
            clients,
            match stop {
                Stop::Count(n) => format!("{n} operations per scenario"),
                Stop::Time(d) => format!("{} s per scenario", d.as_secs()),
            }
        );
        print_header();
    }

    let t = Instant::now();
    let spread = Arc::new(api.funds(SPREAD, "Bench spread").await?);
    let hot = Arc::new(api.funds(1, "Bench hot").await?);
    if !args.json {
        println!(
            "(fixtures: {} funds in {:.1} s)",
            SPREAD + 1,
            t.elapsed().as_secs_f64()
        );
    }
    let baseline_funds = if args.wants("baseline") {
        // Funds of their own (pgbench's chain hashes are not the service's), each with its
        // accounts created by one donation through the API.
        let f = api.funds(SPREAD + 1, "Bench baseline").await?;
        for fund in &f {
            expect(donation(&api, fund, 1_000), 201, false).await?;
        }
        if args.backend == "postgres" {
            baseline::register_funds(&db_scratch.url, 0, &f)?;
            if !args.pgledger_sql.is_empty() {
                baseline::pgledger_setup(&db_scratch.url, &args.pgledger_sql)?;
            }
        }
        Some(f)
    } else {
        None
    };
    let baseline_run =
        |name: &str, funds: &[String], base: usize| -> anyhow::Result<Vec<(String, Stats)>> {
            let mut out = Vec::new();
            if args.backend == "postgres" {
                let s = baseline::pgbench_donations(
                    &db_scratch.url,
                    &actor,
                    base,
                    funds.len(),
                    clients,
                    stop,
                )?;
                out.push((format!("baseline_pgbench_{name}"), s));
                if !args.pgledger_sql.is_empty() {
                    let s =
                        baseline::pgbench_pgledger(&db_scratch.url, name == "hot", clients, stop)?;
                    out.push((format!("baseline_pgledger_{name}"), s));
                }
            }
            let s = baseline::storage_intake(&db_scratch.url, &actor, funds, clients, stop)?;
            out.push((format!("baseline_storage_{name}"), s));
            Ok(out)
        };

    if args.wants("intake") {
        let s = intake(&api, &spread, clients, stop).await;
        let v = row(&s, json!({"funds": SPREAD}));
        say("intake_spread", &v);
        results.insert("intake_spread".into(), v);
    }
    if let Some(f) = &baseline_funds {
        for (name, s) in baseline_run("spread", &f[..SPREAD], 0)? {
            let v = row(&s, json!({"funds": SPREAD}));
            say(&name, &v);
            results.insert(name, v);
        }
    }
    if args.wants("hot") {
        let s = intake(&api, &hot, clients, stop).await;
        let v = row(&s, json!({"funds": 1}));
        say("intake_hot", &v);
        results.insert("intake_hot".into(), v);
    }
    if let Some(f) = &baseline_funds {
        for (name, s) in baseline_run("hot", &f[SPREAD..], SPREAD)? {
            let v = row(&s, json!({"funds": 1}));
            say(&name, &v);
            results.insert(name, v);
        }
    }
    if args.wants("lifecycle") {
        // Money to pay out, and households to pay.
        for fund in spread.iter() {
            expect(donation(&api, fund, 1_000_000_000_000), 201, false).await?;
        }
        let mut households = Vec::new();
        for i in 0..10 {
            let hh = expect(
                api.client
                    .post(api.url("/v1/households"))
                    .bearer_auth(&api.fm)
                    .json(&json!({
                        "unit": UNIT, "head_name": format!("Bench household {i}"),
                        "head_birth_year": 1975, "head_sex": "female", "address": "Bench",
                        "poverty_status": "poor", "members": [],
                    })),
                201,
                true,
            )
            .await
            .context("create a household")?;
            households.push(id_of(&hh)?);
        }
        let s = lifecycle(&api, &spread, &Arc::new(households), clients, stop).await;
        let v = row(&s, json!({"funds": SPREAD, "requests_per_op": 3}));
        say("lifecycle", &v);
        results.insert("lifecycle".into(), v);
    }
    if args.wants("reads") {
        let s = {
            let (api, funds) = (api.clone(), spread.clone());
            load::drive(clients, stop, move |_, i| {
                let fund = &funds[usize::try_from(i).unwrap_or(0) % funds.len()];
                let rb = api
                    .client
                    .get(api.url(&format!("/v1/funds/{fund}/balances")))
                    .bearer_auth(&api.fm);
                async move { expect(rb, 200, false).await.map(drop) }
            })
            .await
        };
        let v = row(&s, json!({}));
        say("balances", &v);
        results.insert("balances".into(), v);
        // Receipts to look up: one fresh donation per fund.
        let mut receipts = Vec::new();
        for fund in spread.iter() {
            let d = expect(donation(&api, fund, 50_000), 201, true).await?;
            let no = d["receipt_no"]
                .as_str()
                .context("no receipt_no")?
                .to_owned();
            receipts.push((fund.clone(), no));
        }
        let receipts = Arc::new(receipts);
        let s = {
            let api = api.clone();
            load::drive(clients, stop, move |_, i| {
                let (fund, no) = &receipts[usize::try_from(i).unwrap_or(0) % receipts.len()];
                let rb = api
                    .client
                    .get(api.url("/v1/public/donations"))
                    .query(&[("receipt_no", no.as_str()), ("fund_id", fund.as_str())]);
                async move { expect(rb, 200, false).await.map(drop) }
            })
            .await
        };
        let v = row(&s, json!({}));
        say("public_lookup", &v);
        results.insert("public_lookup".into(), v);
    }
    if args.wants("import") {
        let account = format!("99{}", std::process::id());
        let f = api.fund("Bench statement", Some(&account)).await?;
        let bank = f["bank_accounts"][0]["id"]
            .as_str()
            .context("no bank account")?
            .to_owned();
        let csv = statement(args.statement_lines);
        let bytes = csv.len();
        let t = Instant::now();
        let r = expect(
            api.client
                .post(api.url(&format!("/v1/bank-statements?bank_account_id={bank}")))
                .bearer_auth(&api.fm)
                .header("content-type", "text/csv")
                .body(csv),
            201,
            true,
        )
        .await
        .context("import the statement")?;
        let secs = t.elapsed().as_secs_f64();
        let v = json!({"ok": r["lines_new"], "bytes": bytes, "seconds": round(secs),
                       "per_sec": lines_per_sec(args.statement_lines, secs),
                       "server_peak_rss_mib": server.peak_rss_kib()? / 1024});
        say("import_lines", &v);
        results.insert("import".into(), v);
    }

    if args.wants("full") || args.wants("export") || args.wants("verify") {
        let big = id_of(&api.fund("Bench big", None).await?)?;
        let t = Instant::now();
        let db = storage::Db::connect(&db_scratch.url, &storage::DbOptions::default())?;
        seed(&db, &big, &admin_id, args.entries)?;
        // After a bulk load PostgreSQL's planner has no statistics of the new rows until
        // autovacuum's analyze gets to them, and may read the postings of a batch by a full
        // scan: analyze now, as a database that has been running would have.
        if args.backend == "postgres" {
            diesel::PgConnection::establish(&db_scratch.url)?.batch_execute("VACUUM ANALYZE")?;
        }
        let seed_secs = t.elapsed().as_secs_f64();
        results.insert(
            "seed".into(),
            json!({"entries": args.entries, "seconds": round(seed_secs),
                   "per_sec": lines_per_sec(args.entries, seed_secs)}),
        );
        if !args.json {
            println!(
                "(seeded {} entries in one fund through the storage crate in {:.1} s)",
                args.entries, seed_secs
            );
        }
        if args.wants("full") {
            let s = intake(&api, &spread, clients, stop).await;
            let v = row(
                &s,
                json!({"funds": SPREAD, "ledger_entries_before": args.entries}),
            );
            say("intake_spread_full", &v);
            results.insert("intake_spread_full".into(), v);
            let s = intake(&api, &Arc::new(vec![big.clone()]), clients, stop).await;
            let v = row(&s, json!({"funds": 1, "fund_entries_before": args.entries}));
            say("intake_hot_full", &v);
            results.insert("intake_hot_full".into(), v);
        }
        // A fresh server for the export and the verification, so that its peak memory is
        // theirs and not that of the load scenarios before them.
        drop(server);
        let server = start(&args.relief, &db_scratch.url).await?;
        let admin = login(&client, &server.base, "admin", PASSWORD).await?;
        let rss_before = server.peak_rss_kib()?;
        results.insert(
            "server_peak_rss_mib_before_export".into(),
            json!(rss_before / 1024),
        );
        if !args.json {
            println!(
                "(a fresh server for export and verify: {} MiB at rest)",
                rss_before / 1024
            );
        }
        if args.wants("export") {
            for format in ["ndjson", "csv"] {
                let url = format!(
                    "{}/v1/funds/{big}/ledger/export?format={format}",
                    server.base
                );
                let (lines, bytes, secs) = download(&client, &url, &admin).await?;
                let v = json!({"ok": lines, "bytes": bytes, "seconds": round(secs),
                               "per_sec": lines_per_sec(lines, secs),
                               "server_peak_rss_mib": server.peak_rss_kib()? / 1024});
                say(&format!("export_{format}"), &v);
                results.insert(format!("export_{format}"), v);
            }
        }
        if args.wants("verify") {
            let t = Instant::now();
            let v = expect(
                client
                    .get(format!("{}/v1/funds/{big}/ledger/verify", server.base))
                    .bearer_auth(&admin),
                200,
                true,
            )
            .await?;
            let secs = t.elapsed().as_secs_f64();
            if v["ok"] != true {
                bail!("verification failed: {v}");
            }
            let v = json!({"ok": v["entries_checked"], "seconds": round(secs),
                           "per_sec": lines_per_sec(args.entries, secs)});
            say("verify", &v);
            results.insert("verify".into(), v);
        }
    }

    let pairs = [
        (
            "intake_spread / baseline_pgbench_spread",
            "intake_spread",
            "baseline_pgbench_spread",
        ),
        (
            "intake_hot / baseline_pgbench_hot",
            "intake_hot",
            "baseline_pgbench_hot",
        ),
        (
            "intake_spread / baseline_pgledger_spread",
            "intake_spread",
            "baseline_pgledger_spread",
        ),
        (
            "intake_hot / baseline_pgledger_hot",
            "intake_hot",
            "baseline_pgledger_hot",
        ),
        (
            "intake_spread / baseline_storage_spread",
            "intake_spread",
            "baseline_storage_spread",
        ),
        (
            "intake_hot / baseline_storage_hot",
            "intake_hot",
            "baseline_storage_hot",
        ),
        ("intake_hot / intake_spread", "intake_hot", "intake_spread"),
        (
            "intake_spread_full / intake_spread",
            "intake_spread_full",
            "intake_spread",
        ),
        (
            "intake_hot_full / intake_hot",
            "intake_hot_full",
            "intake_hot",
        ),
    ];
    for (name, a, b) in pairs {
        if let (Some(a), Some(b)) = (results.get(a), results.get(b)) {
            ratios.insert(name.into(), ratio(a, b));
        }
    }
    if !args.json {
        for (k, v) in &ratios {
            println!("ratio {k}: {v}");
        }
    }
    let failed: Vec<String> = results
        .iter()
        .filter(|(_, v)| v["errors"].as_u64().unwrap_or(0) > 0)
        .map(|(k, v)| format!("{k}: {} errors, first: {}", v["errors"], v["first_error"]))
        .collect();
    let out = json!({
        "backend": args.backend,
        "clients": clients,
        "stop": match stop { Stop::Count(n) => json!({"requests": n}), Stop::Time(d) => json!({"seconds": d.as_secs()}) },
        "entries": args.entries,
        "results": results,
        "ratios": ratios,
    });
    println!("{out}");
    if args.smoke && !failed.is_empty() {
        bail!("requests failed:\n{}", failed.join("\n"));
    }
    for f in failed {
        eprintln!("warning: {f}");
    }
    Ok(())
}

fn print_header() {
    println!(
        "{:<26} {:>9} {:>6} {:>8} {:>10} {:>8} {:>8} {:>8} {:>8}",
        "scenario",
        "ok",
        "errors",
        "seconds",
        "per second",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "RSS MiB"
    );
}

fn print_row(name: &str, v: &Value) {
    let f = |k: &str| match &v[k] {
        Value::Null => "-".to_owned(),
        x => x.to_string(),
    };
    println!(
        "{:<26} {:>9} {:>6} {:>8} {:>10} {:>8} {:>8} {:>8} {:>8}",
        name,
        f("ok"),
        f("errors"),
        f("seconds"),
        f("per_sec"),
        f("p50_ms"),
        f("p90_ms"),
        f("p99_ms"),
        f("server_peak_rss_mib")
    );
}

fn lines_per_sec(n: u64, secs: f64) -> u64 {
    // Display only: a rate, never money.
    let rate = u64_to_f64(n) / secs.max(1e-9);
    format!("{rate:.0}").parse().unwrap_or(0)
}

fn u64_to_f64(n: u64) -> f64 {
    // Exact below 2^53, which every count here is.
    let hi = u32::try_from(n >> 32).unwrap_or(u32::MAX);
    let lo = u32::try_from(n & 0xFFFF_FFFF).unwrap_or(0);
    f64::from(hi) * 4_294_967_296.0 + f64::from(lo)
}

fn round(secs: f64) -> f64 {
    (secs * 1000.0).round() / 1000.0
}
