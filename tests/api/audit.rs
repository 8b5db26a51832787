//! The audit trail, the ledger export with its offline verifier, and signed checkpoints.

use crate::both_backends;
use crate::helpers::{json, problem, Backend, TestApp};
use diesel::connection::SimpleConnection;
use serde_json::{json, Value};
use storage::DbConnection;

both_backends!(
    audit_events_follow_changes_and_not_refusals,
    audit_events_are_scoped_and_read_only,
    reads_of_personal_data_are_logged,
    export_verifies_offline_and_agrees_with_the_service,
    export_range_starts_from_the_opening_balance,
    verifier_catches_a_tampered_export,
    checkpoint_detects_a_rewritten_history,
    export_and_checkpoints_are_refused_out_of_scope,
    auditors_cannot_write_anywhere,
);

fn key() -> String {
    uuid::Uuid::now_v7().to_string()
}

async fn donate(app: &TestApp, token: &str, fund: &str, amount: &str, reason: &str) -> Value {
    let r = app
        .client
        .post(app.url("/v1/donations"))
        .bearer_auth(token)
        .header("Idempotency-Key", key())
        .json(
            &json!({"fund_id": fund, "status": "received", "channel": "cash",
                      "lines": [{"asset": "VND", "amount": amount}], "note": reason}),
        )
        .send()
        .await
        .unwrap();
    json(r, 201).await
}

async fn events(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let r = app.get(&format!("/v1/audit-events?{query}"), token).await;
    json(r, 200).await["items"].as_array().unwrap().clone()
}

fn audit_rows(app: &TestApp) -> i64 {
    app.db
        .read(|c| {
            use diesel::prelude::*;
            Ok(storage::schema::audit_events::table
                .count()
                .get_result::<i64>(c)?)
        })
        .unwrap()
}

/// A fund with an opening balance of 1,000,000 đồng and three donations.
async fn busy_fund(app: &TestApp, admin: &str) -> String {
    let fund = app.create_fund(admin, "C21583", "Quỹ Quy Nhơn").await;
    let id = fund["id"].as_str().unwrap().to_owned();
    let r = app
        .post(
            &format!("/v1/funds/{id}/opening-balances"),
            admin,
            &json!({"lines": [{"asset": "VND", "amount": "1000000"}, {"asset": "RICE_KG", "amount": "12.5"}],
                    "reason": "=HYPERLINK(\"http://x\")\u{2028}số dư đầu kỳ"}),
        )
        .await;
    json(r, 201).await;
    for (amount, note) in [("500000", "a"), ("250000", "b"), ("125000", "c")] {
        donate(app, admin, &id, amount, note).await;
    }
    id
}

async fn audit_events_follow_changes_and_not_refusals(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let fm = app
        .user_token("fm.gialai", "fund_manager", Some("P52"))
        .await;
    let fund = app.create_fund(&fm, "C21583", "Quỹ").await;
    let id = fund["id"].as_str().unwrap();
    let d = donate(&app, &fm, id, "300000", "tiền mặt").await;

    let all = events(&app, &admin, &format!("fund_id={id}")).await;
    let actions: Vec<&str> = all.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["POST /v1/funds", "POST /v1/donations"],
        "{all:#?}"
    );
    let ev = &all[1];
    assert_eq!(
        ev["actor"],
        json!({"id": app.user_id("fm.gialai"), "role": "fund_manager"})
    );
    assert_eq!(ev["entity"], json!({"type": "donation", "id": d["id"]}));
    assert_eq!(ev["detail"]["total_vnd"], "300000");
    assert_eq!(ev["detail"]["receipt_no"], d["receipt_no"]);
    assert_eq!(ev["unit"]["edition"], 2025);
    assert!(ev["request_id"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(ev["occurred_at"].as_str().unwrap().ends_with('Z'));

    // A refused change leaves no event: a reversal with an empty reason, a second opening
    // balance of the same asset, and a replayed idempotent request.
    let before = audit_rows(&app);
    let url = format!("/v1/funds/{id}/opening-balances");
    let body = json!({"lines": [{"asset": "VND", "amount": "1000"}]});
    json(app.post(&url, &admin, &body).await, 201).await;
    let after_one = audit_rows(&app);
    assert_eq!(after_one, before + 1);
    problem(
        app.post(&url, &admin, &body).await,
        409,
        "opening_balance_exists",
    )
    .await;
    let r = app
        .post(
            &format!("/v1/donations/{}/reverse", d["id"].as_str().unwrap()),
            &fm,
            &json!({"reason": ""}),
        )
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(audit_rows(&app), after_one);
    let k = key();
    for _ in 0..2 {
        let r = app
            .client
            .post(app.url("/v1/donations"))
            .bearer_auth(&fm)
            .header("Idempotency-Key", &k)
            .json(
                &json!({"fund_id": id, "status": "received", "channel": "cash",
                          "lines": [{"asset": "VND", "amount": "1"}]}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    assert_eq!(audit_rows(&app), after_one + 1, "a replay writes no event");

    // A change whose event cannot be written does not happen either.
    let funds_before = json(app.get("/v1/funds", &admin).await, 200).await["items"]
        .as_array()
        .unwrap()
        .len();
    app.db
        .write(|c| {
            c.batch_execute("ALTER TABLE audit_events RENAME TO audit_events_away")?;
            Ok(())
        })
        .unwrap();
    let r = app
        .create_fund_raw(&admin, "C21583", "Quỹ không ghi vết")
        .await;
    assert_eq!(r.status(), 500);
    app.db
        .write(|c| {
            c.batch_execute("ALTER TABLE audit_events_away RENAME TO audit_events")?;
            Ok(())
        })
        .unwrap();
    let funds_after = json(app.get("/v1/funds", &admin).await, 200).await["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(funds_after, funds_before);

    // The log is append-only, even for someone with a database connection.
    let err = app.db.write(|c| {
        c.batch_execute("UPDATE audit_events SET actor_role = 'admin'")?;
        Ok(())
    });
    assert!(err.is_err());
    let err = app.db.write(|c| {
        c.batch_execute("DELETE FROM audit_events")?;
        Ok(())
    });
    assert!(err.is_err());
    assert_eq!(audit_rows(&app), after_one + 1);
}

async fn audit_events_are_scoped_and_read_only(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let gl = app.create_fund(&admin, "P52", "Quỹ Gia Lai").await;
    let hn = app.create_fund(&admin, "P01", "Quỹ Hà Nội").await;
    let auditor = app.user_token("aud", "auditor", Some("P52")).await;
    let national = app.user_token("aud2", "auditor", None).await;
    let fm = app
        .user_token("fm.gialai", "fund_manager", Some("P52"))
        .await;

    let seen = events(&app, &auditor, "entity_type=fund").await;
    let ids: Vec<&str> = seen
        .iter()
        .map(|e| e["entity"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [gl["id"].as_str().unwrap()]);
    let all = events(&app, &national, "entity_type=fund").await;
    assert_eq!(all.len(), 2);
    assert!(all.iter().any(|e| e["entity"]["id"] == hn["id"]));
    // National events (users) are for national readers only.
    assert!(events(&app, &national, "entity_type=user").await.len() >= 3);
    assert!(events(&app, &auditor, "entity_type=user")
        .await
        .iter()
        .all(|e| e["unit"]["path"]
            .as_str()
            .is_some_and(|p| p.starts_with("P52"))));

    problem(app.get("/v1/audit-events", &fm).await, 403, "forbidden").await;
    problem(
        app.get("/v1/audit-events?from=yesterday", &auditor).await,
        400,
        "invalid_query",
    )
    .await;
    // Auditors never write.
    let r = app
        .post(
            "/v1/funds",
            &auditor,
            &json!({"unit": "P52", "name": "x", "custodian": "y", "custodian_kind": "red_cross"}),
        )
        .await;
    assert_eq!(r.status(), 403);
    let r = app
        .post(
            &format!("/v1/funds/{}/checkpoints", gl["id"].as_str().unwrap()),
            &auditor,
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), 403);
    let r = app.post("/v1/audit-events", &admin, &json!({})).await;
    assert_eq!(r.status(), 405);

    // Paging walks every event once.
    let mut cursor = String::new();
    let mut seen = Vec::new();
    loop {
        let page = json(
            app.get(&format!("/v1/audit-events?limit=2{cursor}"), &national)
                .await,
            200,
        )
        .await;
        for e in page["items"].as_array().unwrap() {
            seen.push(e["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    let n = seen.len();
    seen.dedup();
    assert_eq!(seen.len(), n);
    assert_eq!(i64::try_from(n).unwrap(), audit_rows(&app));
}

async fn reads_of_personal_data_are_logged(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let fund = app.create_fund(&admin, "C21583", "Quỹ").await;
    let fm = app
        .user_token("fm.gialai", "fund_manager", Some("P52"))
        .await;
    let r = app
        .client
        .post(app.url("/v1/donations"))
        .bearer_auth(&fm)
        .header("Idempotency-Key", key())
        .json(&json!({"fund_id": fund["id"], "status": "received", "channel": "cash",
                      "donor": {"kind": "individual", "name": "Trần Thị Bích", "phone": "0912345678"},
                      "lines": [{"asset": "VND", "amount": "200000"}]}))
        .send()
        .await
        .unwrap();
    let d = json(r, 201).await;
    let donor_id = d["donor"]["id"].as_str().unwrap();
    json(app.get(&format!("/v1/donors/{donor_id}"), &fm).await, 200).await;
    json(
        app.get(&format!("/v1/donations/{}", d["id"].as_str().unwrap()), &fm)
            .await,
        200,
    )
    .await;
    let reads: Vec<Value> = events(
        &app,
        &admin,
        &format!("actor_id={}", app.user_id("fm.gialai")),
    )
    .await
    .into_iter()
    .filter(|e| e["action"].as_str().unwrap().starts_with("GET"))
    .collect();
    let got: Vec<(String, String)> = reads
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["entity"]["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("GET /v1/donors/{id}".to_owned(), donor_id.to_owned()),
            (
                "GET /v1/donations/{id}".to_owned(),
                d["id"].as_str().unwrap().to_owned()
            ),
        ]
    );
    // What was read is named, not copied.
    assert!(!reads[0]["detail"].to_string().contains("Bích"));
}

/// Downloads an export and returns its text.
pub(crate) async fn export(app: &TestApp, token: &str, fund: &str, query: &str) -> String {
    let r = app
        .get(&format!("/v1/funds/{fund}/ledger/export?{query}"), token)
        .await;
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

/// Runs the verifier on `text` with the given checkpoint files; returns its exit code and report.
pub(crate) fn run_verifier(
    text: &str,
    checkpoints: &[Value],
    public_key: Option<&str>,
) -> (i32, Value) {
    let dir = std::env::temp_dir().join(format!("relief-verify-{}", key()));
    std::fs::create_dir_all(&dir).unwrap();
    let export = dir.join("export");
    std::fs::write(&export, text).unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(root.join("tools/verify_export.py")).arg(&export);
    for (i, c) in checkpoints.iter().enumerate() {
        let p = dir.join(format!("checkpoint-{i}.json"));
        std::fs::write(&p, c.to_string()).unwrap();
        cmd.arg("--checkpoint").arg(p);
    }
    if let Some(k) = public_key {
        cmd.arg("--public-key").arg(k);
    }
    let out = cmd.output().expect("python3 runs");
    std::fs::remove_dir_all(&dir).ok();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "verifier output: {} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

async fn export_verifies_offline_and_agrees_with_the_service(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let id = busy_fund(&app, &admin).await;
    let auditor = app.user_token("aud", "auditor", Some("P52")).await;
    let service = json(
        app.get(&format!("/v1/funds/{id}/ledger/verify"), &auditor)
            .await,
        200,
    )
    .await;
    assert_eq!(service["ok"], true);
    for format in ["ndjson", "csv"] {
        let text = export(&app, &auditor, &id, &format!("format={format}")).await;
        let (code, report) = run_verifier(&text, &[], None);
        assert_eq!(code, 0, "{format}: {report:#}");
        assert_eq!(report["ok"], true);
        assert_eq!(report["entries_checked"], 4);
        assert_eq!(report["last_seq"], service["head_seq"]);
        assert_eq!(report["last_hash"], service["head_hash"]);
    }
    // NDJSON: a header, balances, entries and an end that names the head.
    let text = export(&app, &auditor, &id, "").await;
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["type"], "header");
    assert_eq!(lines[0]["first_seq"], 1);
    assert_eq!(lines[0]["prev_hash"], "0".repeat(64));
    let end = lines.last().unwrap();
    assert_eq!(end["type"], "end");
    assert_eq!(end["entries"], 4);
    assert_eq!(end["last_hash"], service["head_hash"]);
    let closing_fund: i64 = lines
        .iter()
        .filter(|l| l["type"] == "closing" && l["account_kind"] == "fund" && l["asset"] == "VND")
        .map(|l| l["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(closing_fund, 1_875_000);
    // CSV is safe to open in a spreadsheet: the formula-like reason is quoted.
    let csv = export(&app, &auditor, &id, "format=csv").await;
    assert!(csv.starts_with("record,fund_id,seq,"));
    assert!(csv.contains(",\"'=HYPERLINK("), "{csv}");
    assert!(!csv.contains(",=HYPERLINK") && !csv.contains(",\"=HYPERLINK"));
}

async fn export_range_starts_from_the_opening_balance(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let id = busy_fund(&app, &admin).await;
    let cut = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    donate(&app, &admin, &id, "7000", "late").await;
    let from = cut.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let q = format!("from={}", from.replace('+', "%2B"));
    let text = export(&app, &admin, &id, &q).await;
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["first_seq"], 5);
    let opening: i64 = lines
        .iter()
        .filter(|l| l["type"] == "opening" && l["account_kind"] == "fund" && l["asset"] == "VND")
        .map(|l| l["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(opening, 1_875_000);
    assert_eq!(lines.iter().filter(|l| l["type"] == "entry").count(), 1);
    let (code, report) = run_verifier(&text, &[], None);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["first_seq"], 5);
    // A range with nothing in it is still a verifiable export.
    let text = export(&app, &admin, &id, "to=2020-01-01").await;
    let (code, report) = run_verifier(&text, &[], None);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["entries_checked"], 0);
}

async fn verifier_catches_a_tampered_export(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let id = busy_fund(&app, &admin).await;
    let text = export(&app, &admin, &id, "format=ndjson").await;
    // A changed amount in one entry.
    let tampered = text.replacen("\"amount\":250000", "\"amount\":25000", 1);
    assert_ne!(tampered, text);
    let (code, report) = run_verifier(&tampered, &[], None);
    assert_eq!(code, 1);
    assert!(report["problems"][0]
        .as_str()
        .unwrap()
        .contains("does not match its hash"));
    // A dropped entry.
    let dropped: Vec<&str> = text.lines().filter(|l| !l.contains("\"seq\":2,")).collect();
    let (code, _) = run_verifier(&dropped.join("\n"), &[], None);
    assert_eq!(code, 1);
    // A truncated download.
    let cut: Vec<&str> = text.lines().take(6).collect();
    let (code, report) = run_verifier(&cut.join("\n"), &[], None);
    assert_eq!(code, 1, "{report:#}");
    // A CSV reason edited in place.
    let csv = export(&app, &admin, &id, "format=csv").await;
    let edited = csv.replacen("'=HYPERLINK(", "'=HYPERLYNX(", 1);
    assert_ne!(edited, csv);
    let (code, _) = run_verifier(&edited, &[], None);
    assert_eq!(code, 1);
}

/// Rewrites a fund's history the way an operator with full database access could: changes an
/// old entry and recomputes every hash after it, so that the chain is consistent again.
fn rewrite_history(app: &TestApp, fund: &str) {
    let fund = fund.to_owned();
    app.db
        .write(move |c: &mut DbConnection| {
            use diesel::prelude::*;
            use storage::schema::{entries, funds};
            match c {
                DbConnection::Pg(_) => {
                    c.batch_execute("SET LOCAL session_replication_role = replica")?
                }
                DbConnection::Sqlite(_) => c.batch_execute("DROP TRIGGER entries_no_update")?,
            }
            let page = storage::ledger::entries_page(
                c,
                &fund,
                &storage::ledger::EntryFilter {
                    limit: 1000,
                    ..Default::default()
                },
            )?;
            let mut prev = domain::ledger::GENESIS_HASH;
            for (i, pe) in page.iter().enumerate() {
                let e = &pe.entry;
                let reason = if i == 1 {
                    "rewritten".to_owned()
                } else {
                    e.reason.clone()
                };
                let hash = domain::ledger::CanonicalEntry {
                    fund_id: &e.fund_id,
                    seq: e.seq,
                    entry_id: &e.id,
                    kind: &e.kind,
                    effective_at: e.effective_at,
                    recorded_at: e.recorded_at,
                    actor_id: &e.actor_id,
                    reason: &reason,
                    ref_type: e.ref_type.as_deref().unwrap_or_default(),
                    ref_id: e.ref_id.as_deref().unwrap_or_default(),
                    reverses_entry_id: e.reverses_entry_id.as_deref().unwrap_or_default(),
                    postings: pe
                        .postings
                        .iter()
                        .map(|p| domain::ledger::CanonicalPosting {
                            account_id: &p.account_id,
                            account_kind: &p.account_kind,
                            designation: &p.designation,
                            asset: &p.asset,
                            amount: p.amount,
                        })
                        .collect(),
                }
                .hash(&prev);
                diesel::update(entries::table.find(&e.id))
                    .set((
                        entries::reason.eq(&reason),
                        entries::prev_hash.eq(hex::encode(prev)),
                        entries::hash.eq(hex::encode(hash)),
                    ))
                    .execute(c)?;
                prev = hash;
            }
            diesel::update(funds::table.find(&fund))
                .set(funds::chain_head.eq(hex::encode(prev)))
                .execute(c)?;
            Ok(())
        })
        .unwrap();
}

async fn checkpoint_detects_a_rewritten_history(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let id = busy_fund(&app, &admin).await;
    // The auditor pins the public key and saves a checkpoint.
    let key_doc = json(
        app.client
            .get(app.url("/v1/checkpoints/key"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let pk = key_doc["public_key"].as_str().unwrap().to_owned();
    assert_eq!(key_doc["algorithm"], "ed25519");
    let cp = json(
        app.post(&format!("/v1/funds/{id}/checkpoints"), &admin, &json!({}))
            .await,
        201,
    )
    .await;
    assert_eq!(cp["seq"], 4);
    assert_eq!(cp["public_key"], pk.as_str());
    // Signing the same head again gives the same checkpoint.
    let again = json(
        app.post(&format!("/v1/funds/{id}/checkpoints"), &admin, &json!({}))
            .await,
        200,
    )
    .await;
    assert_eq!(again["id"], cp["id"]);
    let auditor = app.user_token("aud", "auditor", Some("P52")).await;
    let list = json(
        app.get(&format!("/v1/funds/{id}/checkpoints"), &auditor)
            .await,
        200,
    )
    .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0], cp);

    // More entries; the checkpoint still matches a fresh export.
    donate(&app, &admin, &id, "1000", "after").await;
    let text = export(&app, &auditor, &id, "").await;
    let (code, report) = run_verifier(&text, std::slice::from_ref(&cp), Some(&pk));
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["checkpoints"][0]["status"], "matches");
    // A forged checkpoint does not verify.
    let mut forged = cp.clone();
    forged["hash"] = json!("ab".repeat(32));
    let (code, report) = run_verifier(&text, &[forged], Some(&pk));
    assert_eq!(code, 1);
    assert_eq!(report["checkpoints"][0]["status"], "bad signature");

    // A checkpoint of a longer chain than the export's fund now has: entries were cut off.
    let seed = app
        .db
        .read(|c| storage::settings::get(c, "checkpoint_key"))
        .unwrap()
        .unwrap();
    let key = domain::checkpoint::CheckpointKey::from_seed(
        &hex::decode(seed).unwrap().try_into().unwrap(),
    );
    let mut longer = cp.clone();
    longer["seq"] = json!(99);
    longer["signature"] = json!(key.sign(&id, 99, cp["hash"].as_str().unwrap(), 5));
    longer["signed_at_micros"] = json!(5);
    let csv = export(&app, &auditor, &id, "format=csv").await;
    for export in [&text, &csv] {
        let (code, report) = run_verifier(export, std::slice::from_ref(&longer), Some(&pk));
        assert_eq!(code, 1, "{report:#}");
        assert_eq!(report["checkpoints"][0]["status"], "BEYOND THE HEAD");
    }

    // Someone with the database rewrites entry 2 and recomputes every hash: the service's own
    // verification passes, the saved checkpoint does not.
    rewrite_history(&app, &id);
    let service = json(
        app.get(&format!("/v1/funds/{id}/ledger/verify"), &auditor)
            .await,
        200,
    )
    .await;
    assert_eq!(service["ok"], true, "the rewrite is self-consistent");
    let text = export(&app, &auditor, &id, "format=csv").await;
    assert!(text.contains("rewritten"));
    let (code, report) = run_verifier(&text, std::slice::from_ref(&cp), Some(&pk));
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["checkpoints"][0]["status"], "MISMATCH");
}

async fn export_and_checkpoints_are_refused_out_of_scope(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let id = busy_fund(&app, &admin).await;
    let hanoi = app.user_token("aud", "auditor", Some("P01")).await;
    for path in [
        format!("/v1/funds/{id}/ledger/export"),
        format!("/v1/funds/{id}/checkpoints"),
    ] {
        problem(app.get(&path, &hanoi).await, 404, "not_found").await;
    }
    let r = app
        .get(&format!("/v1/funds/{id}/ledger/export?format=xlsx"), &admin)
        .await;
    let p = problem(r, 400, "invalid_query").await;
    assert!(p["detail"].as_str().unwrap().contains("format"));
    let r = app
        .client
        .get(app.url(&format!("/v1/funds/{id}/ledger/export")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// Every route that writes answers an auditor 403, before it reads the body, and writes nothing.
async fn auditors_cannot_write_anywhere(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let id = busy_fund(&app, &admin).await;
    let auditor = app.user_token("aud", "auditor", None).await;
    let before = audit_rows(&app);
    let mut checked = 0;
    for (method, path) in api::route_list() {
        if method == "GET" || path.starts_with("/v1/auth/") {
            continue;
        }
        let url = path
            .replace("{id}", &id)
            .replace("{entry_id}", &id)
            .replace("{line_id}", &id);
        let r = app
            .client
            .request(method.parse().unwrap(), app.url(&url))
            .bearer_auth(&auditor)
            .header("Idempotency-Key", key())
            .header("Content-Type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or_default();
        assert_eq!(status, 403, "{method} {path}: {body}");
        assert_eq!(body["code"], "forbidden");
        checked += 1;
    }
    assert!(checked >= 30, "{checked} write routes");
    assert_eq!(audit_rows(&app), before, "nothing was written");
}

impl TestApp {
    /// `POST /v1/funds` without checking the answer.
    async fn create_fund_raw(&self, token: &str, unit: &str, name: &str) -> reqwest::Response {
        self.post(
            "/v1/funds",
            token,
            &json!({"unit": unit, "name": name, "custodian": "Ủy ban MTTQ",
                    "custodian_kind": "fatherland_front"}),
        )
        .await
    }
}
