//! `relief-bench`: drives the real release binary over HTTP and reports throughput and the
//! server's peak memory. Results go in docs/PERFORMANCE.md; nothing here asserts a time.
//!
//! Scenarios so far: `export` (a fund with N entries is exported as NDJSON and CSV; lines per
//! second and the server's peak resident memory) and `verify` (the same fund's chain verified
//! through the API; entries per second).

use anyhow::{bail, Context};
use clap::Parser;
use diesel::connection::SimpleConnection;
use diesel::Connection;
use domain::ledger::{AccountKind, EntryKind, Leg};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Benchmarks of the relief ledger service.
#[derive(Parser)]
#[command(name = "relief-bench", version, about)]
struct Args {
    /// `sqlite` or `postgres`.
    #[arg(long, default_value = "sqlite")]
    backend: String,
    /// Entries in the exported fund's ledger.
    #[arg(long, default_value_t = 100_000)]
    entries: u64,
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
}

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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let db_scratch = scratch(&args)?;
    let server = start(&args.relief, &db_scratch.url).await?;
    let client = reqwest::Client::new();
    let token: Value = client
        .post(format!("{}/v1/auth/token", server.base))
        .json(&json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await?
        .json()
        .await?;
    let token = token["access_token"]
        .as_str()
        .context("login failed")?
        .to_owned();
    let me: Value = client
        .get(format!("{}/v1/me", server.base))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    let actor = me["id"].as_str().context("no user id")?.to_owned();
    let fund: Value = client
        .post(format!("{}/v1/funds", server.base))
        .bearer_auth(&token)
        .json(
            &json!({"unit": "P52", "name": "Bench fund", "custodian": "bench",
                      "custodian_kind": "fatherland_front"}),
        )
        .send()
        .await?
        .json()
        .await?;
    let fund = fund["id"].as_str().context("fund not created")?.to_owned();

    let t = Instant::now();
    let db = storage::Db::connect(&db_scratch.url, &storage::DbOptions::default())?;
    seed(&db, &fund, &actor, args.entries)?;
    let seed_secs = t.elapsed().as_secs_f64();
    let rss_before = server.peak_rss_kib()?;

    let mut results = serde_json::Map::new();
    for format in ["ndjson", "csv"] {
        let url = format!(
            "{}/v1/funds/{fund}/ledger/export?format={format}",
            server.base
        );
        let (lines, bytes, secs) = download(&client, &url, &token).await?;
        let per_sec = lines_per_sec(lines, secs);
        results.insert(
            format!("export_{format}"),
            json!({"lines": lines, "bytes": bytes, "seconds": round(secs), "lines_per_sec": per_sec,
                   "server_peak_rss_mib": server.peak_rss_kib()? / 1024}),
        );
    }
    let t = Instant::now();
    let v: Value = client
        .get(format!("{}/v1/funds/{fund}/ledger/verify", server.base))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    let secs = t.elapsed().as_secs_f64();
    if v["ok"] != true {
        bail!("verification failed: {v}");
    }
    results.insert(
        "verify".into(),
        json!({"entries": v["entries_checked"], "seconds": round(secs),
               "entries_per_sec": lines_per_sec(args.entries, secs)}),
    );
    let out = json!({
        "backend": args.backend,
        "entries": args.entries,
        "seed_seconds": round(seed_secs),
        "server_peak_rss_mib_before_export": rss_before / 1024,
        "results": results,
    });
    if !args.json {
        println!(
            "backend {}  entries {}  (seeded in {:.1} s)",
            args.backend, args.entries, seed_secs
        );
        println!("server peak RSS before exports: {} MiB", rss_before / 1024);
        println!(
            "{:<14} {:>10} {:>9} {:>14} {:>16}",
            "scenario", "lines", "seconds", "per second", "server peak MiB"
        );
        for format in ["ndjson", "csv"] {
            let r = &results[&format!("export_{format}")];
            println!(
                "{:<14} {:>10} {:>9} {:>14} {:>16}",
                format!("export {format}"),
                r["lines"],
                r["seconds"],
                r["lines_per_sec"],
                r["server_peak_rss_mib"]
            );
        }
        let r = &results["verify"];
        println!(
            "{:<14} {:>10} {:>9} {:>14} {:>16}",
            "verify", r["entries"], r["seconds"], r["entries_per_sec"], "-"
        );
    }
    println!("{out}");
    Ok(())
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
