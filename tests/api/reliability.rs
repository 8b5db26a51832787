//! Backup and restore, and a PostgreSQL outage under load.

use crate::helpers::{json, test_config, Backend, TestApp};
use diesel::connection::SimpleConnection;
use diesel::Connection;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

crate::both_backends!(a_restored_backup_verifies);

async fn donate(app: &TestApp, token: &str, fund: &str, amount: &str) -> reqwest::Response {
    app.client
        .post(app.url("/v1/donations"))
        .bearer_auth(token)
        .header("Idempotency-Key", uuid::Uuid::now_v7().to_string())
        .json(
            &json!({"fund_id": fund, "status": "received", "channel": "cash",
                      "lines": [{"asset": "VND", "amount": amount}]}),
        )
        .send()
        .await
        .unwrap()
}

/// A fund with three donations; returns its id and its verification.
async fn fund_with_donations(app: &TestApp) -> (String, Value) {
    let admin = app.admin_token().await;
    let fund = app.create_fund(&admin, "C21583", "Quỹ").await;
    let id = fund["id"].as_str().unwrap().to_owned();
    for amount in ["100000", "250000", "75000"] {
        json(donate(app, &admin, &id, amount).await, 201).await;
    }
    let v = json(
        app.get(&format!("/v1/funds/{id}/ledger/verify"), &admin)
            .await,
        200,
    )
    .await;
    assert_eq!(v["ok"], true);
    (id, v)
}

/// `relief backup` on SQLite (VACUUM INTO, while serving), pg_dump on PostgreSQL: the service
/// started on the copy verifies, with the same chain head and balances.
async fn a_restored_backup_verifies(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (id, before) = fund_with_donations(&app).await;
    let stamp = uuid::Uuid::now_v7().simple().to_string();
    let (url, cleanup): (String, Box<dyn FnOnce()>) = match b {
        Backend::Sqlite => {
            let path = std::env::temp_dir().join(format!("relief-backup-{stamp}.db"));
            app.db.backup(&path).unwrap();
            // A second backup to the same file is refused rather than overwriting it.
            assert!(app.db.backup(&path).is_err());
            let p = path.clone();
            (
                format!("sqlite://{}", path.display()),
                Box::new(move || {
                    let _ = std::fs::remove_file(p);
                }),
            )
        }
        Backend::Postgres => {
            assert!(app.db.backup(&std::env::temp_dir().join("x.db")).is_err());
            let source = app.db.display_url().to_owned();
            let dump = std::env::temp_dir().join(format!("relief-backup-{stamp}.dump"));
            let out = std::process::Command::new("pg_dump")
                .args(["-Fc", "-f"])
                .arg(&dump)
                .arg(source.split('?').next().unwrap())
                .output()
                .expect("pg_dump runs");
            assert!(out.status.success(), "{out:?}");
            let admin = std::env::var("TEST_DATABASE_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
            let name = format!("relief_r_{stamp}");
            diesel::PgConnection::establish(&admin)
                .unwrap()
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .unwrap();
            let base = admin.rsplit_once('/').unwrap().0.to_owned();
            let url = format!("{base}/{name}");
            let out = std::process::Command::new("pg_restore")
                .args(["--no-owner", "-d", &url])
                .arg(&dump)
                .output()
                .expect("pg_restore runs");
            assert!(out.status.success(), "{out:?}");
            let _ = std::fs::remove_file(&dump);
            (
                url,
                Box::new(move || {
                    if let Ok(mut c) = diesel::PgConnection::establish(&admin) {
                        let _ = c
                            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                    }
                }),
            )
        }
    };
    {
        let restored = server::Application::build(&test_config(url)).expect("starts on the copy");
        let base = format!("http://127.0.0.1:{}", restored.port());
        let db = restored.db.clone();
        let handle = tokio::spawn(restored.run_until_stopped());
        let client = reqwest::Client::new();
        let token: Value = client
            .post(format!("{base}/v1/auth/token"))
            .json(&json!({"username": "admin", "password": crate::helpers::ADMIN_PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = token["access_token"].as_str().unwrap();
        let after: Value = client
            .get(format!("{base}/v1/funds/{id}/ledger/verify"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(after["ok"], true, "{after}");
        assert_eq!(after["head_seq"], before["head_seq"]);
        assert_eq!(after["head_hash"], before["head_hash"]);
        let id2 = id.clone();
        let balances = db
            .read(move |c| storage::ledger::balances(c, &id2, None))
            .unwrap();
        assert_eq!(balances[0].posted, 425_000);
        handle.abort();
    }
    cleanup();
}

/// A TCP proxy in front of PostgreSQL that the test can cut and restore.
struct Proxy {
    port: u16,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(port: u16) -> Proxy {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let t = tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let conn = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect("127.0.0.1:5432").await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                t.lock().await.push(conn);
            }
        });
        tasks.lock().await.push(accept);
        Proxy { port, tasks }
    }

    /// Closes the listener and every connection: to the service, the database is gone.
    async fn cut(&self) {
        for t in self.tasks.lock().await.drain(..) {
            t.abort();
            let _ = t.await;
        }
    }
}

/// With PostgreSQL unreachable under load, requests answer 503 problem+json within the acquire
/// timeout, never hang; when it is back, the same process serves again without a restart.
// Multi-threaded: the proxy must run while the application starts (which blocks its thread).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_is_503_then_recovers() {
    let proxy = Proxy::start(0).await;
    let port = proxy.port;
    let app = TestApp::spawn_with(Backend::Postgres, |c| {
        c.database_url = c
            .database_url
            .replace("127.0.0.1:5432", &format!("127.0.0.1:{port}"));
        c.db_acquire_timeout_ms = 1000;
        c.db_max_connections = 4;
    })
    .await;
    let (id, _) = fund_with_donations(&app).await;
    let admin = app.admin_token().await;

    proxy.cut().await;
    // Under load: 16 concurrent writes and reads, all refused quickly with 503.
    let started = Instant::now();
    let mut calls = Vec::new();
    for i in 0..16 {
        let (client, url, token, id) = (app.client.clone(), app.url(""), admin.clone(), id.clone());
        calls.push(tokio::spawn(async move {
            let r = if i % 2 == 0 {
                client
                    .get(format!("{url}/v1/funds/{id}/balances"))
                    .bearer_auth(&token)
                    .send()
                    .await
            } else {
                client
                    .post(format!("{url}/v1/donations"))
                    .bearer_auth(&token)
                    .header("Idempotency-Key", uuid::Uuid::now_v7().to_string())
                    .json(
                        &json!({"fund_id": id, "status": "received", "channel": "cash",
                                  "lines": [{"asset": "VND", "amount": "1000"}]}),
                    )
                    .send()
                    .await
            }
            .unwrap();
            let status = r.status().as_u16();
            let ct = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned());
            let body = r.text().await.unwrap_or_default();
            (status, ct, body)
        }));
    }
    for c in calls {
        let (status, ct, body) = c.await.unwrap();
        assert_eq!(status, 503, "{body}");
        assert_eq!(ct.as_deref(), Some("application/problem+json"));
    }
    // A hang-check, not a timing assertion: nothing waits on a dead database for long.
    assert!(started.elapsed() < Duration::from_secs(30));
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);

    // The database comes back on the same address: the same process recovers by itself.
    let _proxy = Proxy::start(port).await;
    let mut recovered = false;
    for _ in 0..100 {
        let r = app.client.get(app.url("/readyz")).send().await.unwrap();
        if r.status() == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "/readyz is 200 again");
    json(donate(&app, &admin, &id, "5000").await, 201).await;
    let v = json(
        app.get(&format!("/v1/funds/{id}/ledger/verify"), &admin)
            .await,
        200,
    )
    .await;
    assert_eq!(v["ok"], true);
    assert_eq!(v["head_seq"], 4, "the refused donations left nothing");
}
