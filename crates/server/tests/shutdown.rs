#![allow(clippy::unwrap_used)]
//! SIGTERM: the service stops accepting, finishes the requests in flight and exits cleanly.
//! Runs the real binary (`CARGO_BIN_EXE_relief`) on a SQLite file.

use domain::ledger::{AccountKind, EntryKind, Leg};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::Duration;

const PASSWORD: &str = "shutdown-test-password";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn sigterm_finishes_in_flight_requests_then_exits() {
    let file = std::env::temp_dir().join(format!("relief-shutdown-{}.db", uuid::Uuid::now_v7()));
    let url = format!("sqlite://{}", file.display());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_relief"))
        .env("DATABASE_URL", &url)
        .env("RELIEF_BIND", format!("127.0.0.1:{port}"))
        .env("RELIEF_ADMIN_PASSWORD", PASSWORD)
        .env("RELIEF_CHECKPOINT_INTERVAL_SECS", "0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..200 {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await {
            ready = r.status().is_success();
            if ready {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "the service starts");
    let token: Value = client
        .post(format!("{base}/v1/auth/token"))
        .json(&json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    let me: Value = client
        .get(format!("{base}/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let fund: Value = client
        .post(format!("{base}/v1/funds"))
        .bearer_auth(&token)
        .json(&json!({"unit": "P52", "name": "Quỹ", "custodian": "MTTQ",
                      "custodian_kind": "fatherland_front"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let fund = fund["id"].as_str().unwrap().to_owned();
    // A ledger large enough that its export outlasts the socket buffers.
    let db = storage::Db::connect(&url, &storage::DbOptions::default()).unwrap();
    let actor = me["id"].as_str().unwrap().to_owned();
    db.write(|c| {
        for _ in 0..6000 {
            storage::ledger::post(
                c,
                &storage::ledger::NewEntry {
                    fund_id: fund.clone(),
                    kind: EntryKind::Donation,
                    reason: "donation".into(),
                    actor_id: actor.clone(),
                    ref_type: None,
                    ref_id: None,
                    effective_at: storage::now_micros(),
                    legs: vec![
                        Leg::new(AccountKind::Fund, "VND", 1000),
                        Leg::new(AccountKind::Donations, "VND", -1000),
                    ],
                },
            )?;
        }
        Ok(())
    })
    .unwrap();

    // An export in flight, read slowly (on a new connection: the idle one may have timed out
    // while the ledger was written).
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let r = client
        .get(format!("{base}/v1/funds/{fund}/ledger/export"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut body = r.bytes_stream();
    let mut text = Vec::new();
    text.extend_from_slice(&body.next().await.unwrap().unwrap());

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // New connections are refused once it stops accepting.
    let mut refused = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            refused = true;
            break;
        }
    }
    assert!(refused, "new connections are refused after SIGTERM");

    // The export in flight still ends complete.
    while let Some(chunk) = body.next().await {
        text.extend_from_slice(&chunk.unwrap());
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let text = String::from_utf8(text).unwrap();
    let last: Value = serde_json::from_str(text.trim_end().lines().last().unwrap()).unwrap();
    assert_eq!(last["type"], "end");
    assert_eq!(last["entries"], 6000);

    // And the process exits cleanly, within the shutdown bound.
    let mut exited = None;
    for _ in 0..400 {
        if let Some(s) = child.try_wait().unwrap() {
            exited = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let exited = exited.unwrap_or_else(|| {
        let _ = child.kill();
        panic!("the service did not exit after SIGTERM")
    });
    assert!(exited.success(), "exit status {exited:?}");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
}
