//! The baselines the service is compared with: pgbench running the same statements as one
//! donation (PostgreSQL), and the same donation transaction through the storage crate without
//! HTTP (both backends; the baseline for SQLite).

use crate::load::{Stats, Stop};
use anyhow::{bail, Context};
use diesel::connection::SimpleConnection;
use diesel::Connection;
use domain::donations::{Channel, DonationStatus};
use domain::ledger::Designation;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The pgbench script (committed beside the crate).
pub const PGBENCH_SCRIPT: &str = include_str!("../pgbench/donation.sql");

/// Names the funds the pgbench script spreads over: `bench_funds(n, fund_id)`, `n` from `base`.
pub fn register_funds(pg_url: &str, base: usize, funds: &[String]) -> anyhow::Result<()> {
    let mut c = diesel::PgConnection::establish(pg_url)?;
    let mut sql = String::from(
        "CREATE TABLE IF NOT EXISTS bench_funds (n INTEGER PRIMARY KEY, fund_id TEXT NOT NULL);",
    );
    for (i, f) in funds.iter().enumerate() {
        sql.push_str(&format!(
            "INSERT INTO bench_funds VALUES ({}, '{f}');",
            base + i
        ));
    }
    c.batch_execute(&sql)?;
    Ok(())
}

/// The pgbench script of the pgledger anchor: one `pgledger_create_transfer` call.
pub const PGLEDGER_SCRIPT: &str = include_str!("../pgbench/pgledger_transfer.sql");

/// Accounts the pgledger transfers spread over (the "100 accounts").
pub const PGLEDGER_ACCOUNTS: usize = 100;

/// Runs pgbench's donation script with `clients` clients over the funds `base..base + funds`
/// of `bench_funds`.
pub fn pgbench_donations(
    pg_url: &str,
    actor: &str,
    base: usize,
    funds: usize,
    clients: usize,
    stop: Stop,
) -> anyhow::Result<Stats> {
    let vars = [
        format!("actor={actor}"),
        format!("year={}", crate::receipt_year()),
        format!("base={base}"),
        format!("funds={funds}"),
    ];
    pgbench(pg_url, PGBENCH_SCRIPT, "prepared", &vars, clients, stop)
}

/// Loads pgledger (its SQL files, in the order given: they are not in this repository) into
/// the scratch database and creates its accounts, named in `bench_pgledger(n, id)`.
pub fn pgledger_setup(pg_url: &str, files: &[std::path::PathBuf]) -> anyhow::Result<()> {
    let mut c = diesel::PgConnection::establish(pg_url)?;
    for f in files {
        let sql = std::fs::read_to_string(f)
            .with_context(|| format!("cannot read pgledger's {}", f.display()))?;
        c.batch_execute(&sql)
            .with_context(|| format!("cannot load pgledger's {}", f.display()))?;
    }
    c.batch_execute(&format!(
        "CREATE TABLE bench_pgledger (n INTEGER PRIMARY KEY, id TEXT NOT NULL);
         INSERT INTO bench_pgledger
             SELECT n, (SELECT id FROM pgledger_create_account('bench ' || n, 'VND'))
             FROM generate_series(0, {}) AS n;",
        PGLEDGER_ACCOUNTS - 1
    ))?;
    Ok(())
}

/// Runs the pgledger transfer script: spread over the accounts, or all to one `hot` account.
pub fn pgbench_pgledger(
    pg_url: &str,
    hot: bool,
    clients: usize,
    stop: Stop,
) -> anyhow::Result<Stats> {
    let vars = [
        format!("accounts={PGLEDGER_ACCOUNTS}"),
        format!("hot={}", u8::from(hot)),
    ];
    pgbench(pg_url, PGLEDGER_SCRIPT, "simple", &vars, clients, stop)
}

/// Runs pgbench on `script` in query `mode` (`-M`: `simple` or `prepared`) with `clients`
/// clients (`-j 2`) and the `-D` variables `vars`; latencies come from its per-transaction log.
fn pgbench(
    pg_url: &str,
    script_text: &str,
    mode: &str,
    vars: &[String],
    clients: usize,
    stop: Stop,
) -> anyhow::Result<Stats> {
    let dir = std::env::temp_dir().join(format!("relief-bench-pgbench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let script = dir.join("script.sql");
    std::fs::write(&script, script_text)?;
    let mut cmd = Command::new("pgbench");
    cmd.arg("-n")
        .args(["-M", mode])
        .args(["-c", &clients.to_string()])
        .args(["-j", "2"])
        .arg("-f")
        .arg(&script);
    for v in vars {
        cmd.args(["-D", v]);
    }
    cmd.arg("-l")
        .arg(format!("--log-prefix={}", dir.join("log").display()));
    match stop {
        Stop::Count(n) => {
            let per_client = n.div_ceil(u64::try_from(clients.max(1))?).max(1);
            cmd.args(["-t", &per_client.to_string()]);
        }
        Stop::Time(d) => {
            cmd.args(["-T", &d.as_secs().max(1).to_string()]);
        }
    }
    cmd.arg(pg_url);
    let out = cmd
        .output()
        .context("cannot run pgbench (Debian: apt-get install postgresql-client)")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "pgbench failed: {}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let failed = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("number of failed transactions: "))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    // Each log line: client, transaction, latency in µs, script, epoch seconds, µs.
    let mut latencies = Vec::new();
    let (mut first, mut last) = (u64::MAX, 0u64);
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if !path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("log"))
        {
            continue;
        }
        for line in std::fs::read_to_string(&path)?.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if let (Some(lat), Some(s), Some(us)) = (f.get(2), f.get(4), f.get(5)) {
                let (lat, s, us): (u64, u64, u64) = (lat.parse()?, s.parse()?, us.parse()?);
                let end = s * 1_000_000 + us;
                first = first.min(end.saturating_sub(lat));
                last = last.max(end);
                latencies.push(Duration::from_micros(lat));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    if latencies.is_empty() {
        bail!("pgbench ran no transaction:\n{stdout}");
    }
    let secs = Duration::from_micros(last.saturating_sub(first)).as_secs_f64();
    Ok(Stats::from_latencies(latencies, failed, secs))
}

/// One donation as the service records it, through the storage crate: the idempotency key, the
/// donation with its receipt number and ledger entry, the audit event, the stored answer.
fn donate(
    db: &storage::Db,
    assets: &storage::assets::Cache,
    actor: &str,
    fund: &str,
    amount: i64,
) -> Result<(), storage::StoreError> {
    let key = uuid::Uuid::now_v7().to_string();
    let new = storage::donations::NewDonation {
        fund_id: fund.to_owned(),
        campaign_id: None,
        donor_id: None,
        status: DonationStatus::Received,
        channel: Channel::Cash,
        bank_account_id: None,
        bank_ref: None,
        received_at: storage::now_micros(),
        lines: vec![storage::donations::RawLine {
            asset: "VND".into(),
            amount: amount.to_string(),
            value_vnd: None,
            description: None,
        }],
        earmark: Designation::default(),
        fulfills_pledge_id: None,
        note: None,
        actor_id: actor.to_owned(),
    };
    storage::idempotency::run(
        db,
        actor,
        &key,
        &key,
        &mut |c: &mut storage::DbConnection| {
            let assets = assets.covering(c, new.lines.iter().map(|l| l.asset.as_str()))?;
            let d = storage::donations::record(c, &new, &assets)?;
            let body = serde_json::json!({
                "id": d.row.id, "fund_id": d.row.fund_id, "receipt_no": d.row.receipt_no,
                "entry_id": d.row.entry_id, "total_vnd": d.row.total_vnd.to_string(),
            })
            .to_string();
            let event = storage::audit::AuditEvent {
                id: uuid::Uuid::now_v7().to_string(),
                occurred_at: storage::now_micros(),
                actor_id: actor.to_owned(),
                actor_role: "fund_manager".into(),
                request_id: key.clone(),
                action: "POST /v1/donations".into(),
                entity_type: Some("donation".into()),
                entity_id: Some(d.row.id.clone()),
                fund_id: Some(d.row.fund_id.clone()),
                unit_edition: Some(2025),
                unit_path: Some("P52".into()),
                detail: body.clone(),
            };
            Ok(storage::idempotency::Done {
                status: 201,
                body,
                event: Some(event),
            })
        },
        &|_| None,
    )?;
    Ok(())
}

/// The same donation transaction from `clients` threads, spread over `funds`, without HTTP.
pub fn storage_intake(
    url: &str,
    actor: &str,
    funds: &[String],
    clients: usize,
    stop: Stop,
) -> anyhow::Result<Stats> {
    let db = storage::Db::connect(
        url,
        &storage::DbOptions {
            max_connections: u32::try_from(clients)?,
            acquire_timeout: Duration::from_secs(60),
        },
    )?;
    let counter = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let first_error: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let funds = Arc::new(funds.to_vec());
    // The service's asset cache: one per process.
    let assets = Arc::new(storage::assets::Cache::default());
    let start = Instant::now();
    let mut threads = Vec::new();
    for _ in 0..clients {
        let (db, assets, counter, errors, first_error, funds, actor) = (
            db.clone(),
            assets.clone(),
            counter.clone(),
            errors.clone(),
            first_error.clone(),
            funds.clone(),
            actor.to_owned(),
        );
        threads.push(std::thread::spawn(move || {
            let mut latencies = Vec::new();
            loop {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                let go = match stop {
                    Stop::Count(n) => i < n,
                    Stop::Time(d) => start.elapsed() < d,
                };
                if !go {
                    break;
                }
                let fund = &funds[usize::try_from(i).unwrap_or(0) % funds.len()];
                let amount = 100_000 + i64::try_from(i % 1000).unwrap_or(0);
                let t = Instant::now();
                match donate(&db, &assets, &actor, fund, amount) {
                    Ok(()) => latencies.push(t.elapsed()),
                    Err(e) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        let mut first = first_error.lock().unwrap_or_else(PoisonError::into_inner);
                        first.get_or_insert_with(|| e.to_string());
                    }
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in threads {
        if let Ok(l) = t.join() {
            latencies.extend(l);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let mut stats = Stats::from_latencies(latencies, errors.load(Ordering::Relaxed), secs);
    stats.first_error = first_error
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    Ok(stats)
}
