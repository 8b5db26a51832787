//! The posting path below HTTP, on both backends: holds, refusals that change nothing, the
//! append-only triggers, tamper detection, concurrency and balances at past instants.

use crate::helpers::{Backend, TestApp};
use diesel::connection::SimpleConnection;
use domain::ledger::{AccountKind, EntryKind, Leg};
use storage::ledger::{NewEntry, PostHold};
use storage::{DbConnection, StoreError};

fn leg(account: AccountKind, asset: &str, amount: i64) -> Leg {
    Leg::new(account, asset, amount)
}

fn donation(fund: &str, actor: &str, amount: i64) -> NewEntry {
    NewEntry {
        fund_id: fund.into(),
        kind: EntryKind::Donation,
        reason: "test donation".into(),
        actor_id: actor.into(),
        ref_type: None,
        ref_id: None,
        effective_at: storage::now_micros(),
        legs: vec![
            leg(AccountKind::Fund, "VND", amount),
            leg(AccountKind::Donations, "VND", -amount),
        ],
    }
}

fn hold_of(fund: &str, amount: i64, reason: &str, actor: &str) -> storage::ledger::NewHold {
    storage::ledger::NewHold {
        fund_id: fund.into(),
        asset: "VND".into(),
        designation: String::new(),
        amount,
        reason: reason.into(),
        actor_id: actor.into(),
        reference: None,
    }
}

fn payout(fund: &str, actor: &str, amount: i64) -> NewEntry {
    NewEntry {
        kind: EntryKind::Disbursement,
        legs: vec![
            leg(AccountKind::Fund, "VND", -amount),
            leg(AccountKind::Payouts, "VND", amount),
        ],
        ..donation(fund, actor, amount)
    }
}

async fn setup(b: Backend, funds: usize) -> (TestApp, Vec<String>, String) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin_token().await;
    let mut ids = Vec::new();
    for i in 0..funds {
        let f = app.create_fund(&admin, "C21583", &format!("Quỹ {i}")).await;
        ids.push(f["id"].as_str().unwrap().to_owned());
    }
    let actor = app.user_id("admin");
    (app, ids, actor)
}

fn code(e: &StoreError) -> &'static str {
    match e {
        StoreError::Rule { code, .. } | StoreError::Conflict { code, .. } => code,
        other => panic!("unexpected error {other:?}"),
    }
}

/// Everything a refusal must leave untouched: balances, chain head, entry count.
fn snapshot(app: &TestApp, fund: &str) -> (Vec<(String, i64, i64)>, i64, String) {
    let f = fund.to_owned();
    let row = app.db.read(move |c| storage::funds::get(c, &f)).unwrap();
    (app.balances(fund), row.chain_seq, row.chain_head)
}

async fn holds_reserve_post_and_void_once(b: Backend) {
    let (app, funds, actor) = setup(b, 1).await;
    let f = funds[0].clone();
    let (a, f2) = (actor.clone(), f.clone());
    app.db
        .write(move |c| storage::ledger::post(c, &donation(&f2, &a, 1000)))
        .unwrap();

    let (a, f2) = (actor.clone(), f.clone());
    let hold = app
        .db
        .write(move |c| storage::ledger::reserve(c, &hold_of(&f2, 600, "approved", &a)))
        .unwrap();
    assert_eq!(app.balances(&f), [("VND".to_owned(), 1000, 600)]);

    // The reservation counts against availability: 401 more cannot be reserved or paid.
    let before = snapshot(&app, &f);
    let (a, f2) = (actor.clone(), f.clone());
    let e = app
        .db
        .write(move |c| storage::ledger::reserve(c, &hold_of(&f2, 401, "x", &a)))
        .unwrap_err();
    assert_eq!(code(&e), "insufficient_funds");
    let (a, f2) = (actor.clone(), f.clone());
    let e = app
        .db
        .write(move |c| storage::ledger::post(c, &payout(&f2, &a, 401)))
        .unwrap_err();
    assert_eq!(code(&e), "insufficient_funds");
    assert_eq!(snapshot(&app, &f), before);

    // Post part of the hold: the whole reservation is released.
    let post = |amount: i64, hold_id: String, actor: String| PostHold {
        hold_id,
        amount,
        counter: AccountKind::Payouts,
        kind: EntryKind::Disbursement,
        reason: "paid".into(),
        actor_id: actor,
        effective_at: storage::now_micros(),
    };
    let p = post(700, hold.id.clone(), actor.clone());
    let e = app
        .db
        .write(move |c| storage::ledger::post_hold(c, &p))
        .unwrap_err();
    assert_eq!(code(&e), "exceeds_hold");
    let p = post(500, hold.id.clone(), actor.clone());
    let (h, entry) = app
        .db
        .write(move |c| storage::ledger::post_hold(c, &p))
        .unwrap();
    assert_eq!(h.status, "posted");
    assert_eq!(h.posted_amount, Some(500));
    assert_eq!(entry.entry.seq, 2);
    assert_eq!(app.balances(&f), [("VND".to_owned(), 500, 0)]);

    // A hold resolves at most once.
    let before = snapshot(&app, &f);
    let p = post(100, hold.id.clone(), actor.clone());
    let e = app
        .db
        .write(move |c| storage::ledger::post_hold(c, &p))
        .unwrap_err();
    assert_eq!(code(&e), "hold_resolved");
    let (hid, a) = (hold.id.clone(), actor.clone());
    let e = app
        .db
        .write(move |c| storage::ledger::void_hold(c, &hid, &a))
        .unwrap_err();
    assert_eq!(code(&e), "hold_resolved");
    assert_eq!(snapshot(&app, &f), before);

    // Voiding releases the reservation.
    let (a, f2) = (actor.clone(), f.clone());
    let h2 = app
        .db
        .write(move |c| storage::ledger::reserve(c, &hold_of(&f2, 500, "x", &a)))
        .unwrap();
    assert_eq!(app.balances(&f), [("VND".to_owned(), 500, 500)]);
    let (hid, a) = (h2.id.clone(), actor.clone());
    assert_eq!(
        app.db
            .write(move |c| storage::ledger::void_hold(c, &hid, &a))
            .unwrap()
            .status,
        "voided"
    );
    assert_eq!(app.balances(&f), [("VND".to_owned(), 500, 0)]);
    let f2 = f.clone();
    assert!(storage::ledger::verify(&app.db, &f2).unwrap().ok);
}

async fn refused_entries_change_nothing(b: Backend) {
    let (app, funds, actor) = setup(b, 1).await;
    let f = funds[0].clone();
    let (a, f2) = (actor.clone(), f.clone());
    let first = app
        .db
        .write(move |c| storage::ledger::post(c, &donation(&f2, &a, 100)))
        .unwrap();
    let before = snapshot(&app, &f);
    let attempts: Vec<(NewEntry, &str)> = vec![
        (payout(&f, &actor, 101), "insufficient_funds"),
        (
            NewEntry {
                legs: vec![
                    leg(AccountKind::Fund, "VND", 5),
                    leg(AccountKind::Donations, "VND", -4),
                ],
                ..donation(&f, &actor, 1)
            },
            "unbalanced_entry",
        ),
        (
            NewEntry {
                legs: vec![leg(AccountKind::Fund, "VND", 5)],
                ..donation(&f, &actor, 1)
            },
            "unbalanced_entry",
        ),
        (
            NewEntry {
                legs: vec![
                    leg(AccountKind::Fund, "VND", i64::MAX),
                    leg(AccountKind::Donations, "VND", -i64::MAX),
                ],
                ..donation(&f, &actor, 1)
            },
            "amount_overflow",
        ),
    ];
    for (entry, expected) in attempts {
        let e = app
            .db
            .write(move |c| storage::ledger::post(c, &entry))
            .unwrap_err();
        assert_eq!(code(&e), expected);
        assert_eq!(snapshot(&app, &f), before);
    }
    let e = NewEntry {
        legs: vec![
            leg(AccountKind::Fund, "GOLD", 5),
            leg(AccountKind::Donations, "GOLD", -5),
        ],
        ..donation(&f, &actor, 1)
    };
    assert!(matches!(
        app.db.write(move |c| storage::ledger::post(c, &e)),
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(snapshot(&app, &f), before);

    // Reversing a donation that was spent would overdraw the fund.
    let (a, f2) = (actor.clone(), f.clone());
    app.db
        .write(move |c| storage::ledger::post(c, &payout(&f2, &a, 60)))
        .unwrap();
    let before = snapshot(&app, &f);
    let (id, a) = (first.entry.id.clone(), actor.clone());
    let e = app
        .db
        .write(move |c| storage::ledger::reverse(c, &id, "mistake", &a))
        .unwrap_err();
    assert_eq!(code(&e), "insufficient_funds");
    assert_eq!(snapshot(&app, &f), before);
}

fn exec(app: &TestApp, sql: &'static str) -> Result<(), StoreError> {
    app.db
        .write(move |c| c.batch_execute(sql).map_err(Into::into))
}

async fn the_ledger_is_append_only(b: Backend) {
    let (app, funds, actor) = setup(b, 1).await;
    let (a, f2) = (actor.clone(), funds[0].clone());
    app.db
        .write(move |c| storage::ledger::post(c, &donation(&f2, &a, 100)))
        .unwrap();
    for sql in [
        "UPDATE entries SET reason = 'changed'",
        "DELETE FROM entries",
        "UPDATE postings SET amount = 1",
        "DELETE FROM postings",
    ] {
        let e = exec(&app, sql).unwrap_err();
        assert!(e.to_string().contains("append-only"), "{sql}: {e}");
    }
    // An entry whose postings do not balance is refused by the database itself.
    let fund = funds[0].clone();
    let e = app
        .db
        .write(move |c| {
            let acc: String = {
                use diesel::prelude::*;
                use storage::schema::accounts;
                accounts::table.filter(accounts::fund_id.eq(&fund)).select(accounts::id).first(c)?
            };
            c.batch_execute(&format!(
                "INSERT INTO postings (entry_id, idx, account_id, asset, amount) VALUES ('e1', 0, '{acc}', 'VND', 5);
                 INSERT INTO entries (id, fund_id, seq, kind, reason, actor_id, effective_at, recorded_at, prev_hash, hash)
                 VALUES ('e1', '{fund}', 99, 'donation', 'forged', '{actor}', 0, 0, 'x', 'y');"
            ))
            .map_err(Into::into)
        })
        .unwrap_err();
    assert!(e.to_string().contains("entry"), "{e}");
    let f = funds[0].clone();
    assert!(storage::ledger::verify(&app.db, &f).unwrap().ok);
}

/// An attacker with database access bypasses the triggers and edits history: verify names the
/// fund and the first bad seq.
async fn tampering_is_detected(b: Backend) {
    let (app, funds, actor) = setup(b, 2).await;
    for f in &funds {
        for amount in [100, 200, 300, 400] {
            let (a, f2) = (actor.clone(), f.clone());
            app.db
                .write(move |c| storage::ledger::post(c, &donation(&f2, &a, amount)))
                .unwrap();
        }
    }
    let victim = funds[1].clone();
    tamper(&app, &victim, 3, 300);
    let (f0, f1) = (funds[0].clone(), funds[1].clone());
    let ok = storage::ledger::verify(&app.db, &f0).unwrap();
    assert!(ok.ok);
    let bad = storage::ledger::verify(&app.db, &f1).unwrap();
    assert!(!bad.ok);
    assert_eq!(bad.first_bad_seq, Some(3));
    // The HTTP report says the same.
    let admin = app.admin_token().await;
    let r = app
        .get(&format!("/v1/funds/{victim}/ledger/verify"), &admin)
        .await;
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["ok"], false);
    assert_eq!(body["first_bad_seq"], 3);
}

/// 16 threads hammer 3 funds with donations, payouts, holds and reversals. Afterwards every
/// balance equals its postings, nothing is overdrawn and every chain verifies.
async fn concurrent_mixed_operations_keep_the_invariants(b: Backend) {
    let (app, funds, actor) = setup(b, 3).await;
    let threads: Vec<_> = (0..16u64)
        .map(|t| {
            let db = app.db.clone();
            let funds = funds.clone();
            let actor = actor.clone();
            std::thread::spawn(move || {
                let mut ok = 0u32;
                let mut seed = t.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                let mut next = move || {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed
                };
                let mut last_entry: Option<String> = None;
                let mut holds: Vec<String> = Vec::new();
                for _ in 0..40 {
                    let r = next();
                    let fund = funds[usize::try_from(r % 3).unwrap()].clone();
                    let amount = i64::try_from(r % 500).unwrap() + 1;
                    let a = actor.clone();
                    let result: Result<(), StoreError> = match (r >> 8) % 6 {
                        0 | 1 => db
                            .write(|c| storage::ledger::post(c, &donation(&fund, &a, amount)))
                            .map(|e| last_entry = Some(e.entry.id)),
                        2 => db
                            .write(|c| storage::ledger::post(c, &payout(&fund, &a, amount)))
                            .map(|_| ()),
                        3 => db
                            .write(|c| {
                                storage::ledger::reserve(c, &hold_of(&fund, amount, "hold", &a))
                            })
                            .map(|h| holds.push(h.id)),
                        4 => match holds.pop() {
                            Some(h) if r % 2 == 0 => db
                                .write(|c| storage::ledger::void_hold(c, &h, &a))
                                .map(|_| ()),
                            Some(h) => db
                                .write(|c| {
                                    storage::ledger::post_hold(
                                        c,
                                        &PostHold {
                                            hold_id: h.clone(),
                                            amount: 1,
                                            counter: AccountKind::Payouts,
                                            kind: EntryKind::Disbursement,
                                            reason: "paid".into(),
                                            actor_id: a.clone(),
                                            effective_at: storage::now_micros(),
                                        },
                                    )
                                })
                                .map(|_| ()),
                            None => Ok(()),
                        },
                        _ => match last_entry.take() {
                            Some(e) => db
                                .write(|c| storage::ledger::reverse(c, &e, "undo", &a))
                                .map(|_| ()),
                            None => Ok(()),
                        },
                    };
                    match result {
                        Ok(()) => ok += 1,
                        Err(StoreError::Rule { .. } | StoreError::Conflict { .. }) => {}
                        Err(e) => panic!("unexpected error under load: {e}"),
                    }
                }
                ok
            })
        })
        .collect();
    let mut succeeded = 0;
    for t in threads {
        succeeded += t.join().expect("thread");
    }
    assert!(
        succeeded > 16 * 10,
        "too few operations succeeded: {succeeded}"
    );
    for f in &funds {
        let id = f.clone();
        let v = storage::ledger::verify(&app.db, &id).unwrap();
        assert!(v.ok, "{v:?}");
        for (asset, posted, reserved) in app.balances(f) {
            assert!(
                reserved >= 0 && posted - reserved >= 0,
                "{asset}: {posted} {reserved}"
            );
        }
    }
}

/// Balances at past instants equal a replay of the postings effective by then.
async fn balances_as_of_match_a_replay(b: Backend) {
    let (app, funds, actor) = setup(b, 1).await;
    let f = funds[0].clone();
    let day = 86_400_000_000i64;
    let base = 1_767_225_600_000_000i64; // 2026-01-01
    let mut history = Vec::new();
    for (i, amount) in [500i64, -200, 300, -100, 50].into_iter().enumerate() {
        let at = base + day * i64::try_from(i).unwrap();
        let e = if amount > 0 {
            donation(&f, &actor, amount)
        } else {
            payout(&f, &actor, -amount)
        };
        let e = NewEntry {
            effective_at: at,
            ..e
        };
        app.db.write(move |c| storage::ledger::post(c, &e)).unwrap();
        history.push((at, amount));
    }
    for probe in 0..7i64 {
        let t = base + day * probe - 1;
        let expected: i64 = history
            .iter()
            .filter(|(at, _)| *at <= t)
            .map(|(_, a)| a)
            .sum();
        let f2 = f.clone();
        let got = app
            .db
            .read(move |c| storage::ledger::balances(c, &f2, Some(t)))
            .unwrap();
        assert_eq!(got[0].posted, expected, "as of day {probe}");
        assert_eq!(got[0].reserved, 0);
    }
}

/// Edits the postings of the entry at `seq` behind the triggers' back (amount × 10) and the
/// fund's balances to match, so that only the entry's hash gives it away.
fn tamper(app: &TestApp, fund: &str, seq: i64, amount: i64) {
    let f = fund.to_owned();
    app.db
        .write(move |c: &mut DbConnection| {
            let extra = amount * 9;
            let edit = format!(
                "UPDATE postings SET amount = amount * 10 WHERE entry_id =
                     (SELECT id FROM entries WHERE fund_id = '{f}' AND seq = {seq});
                 UPDATE accounts SET posted = posted + {extra} WHERE fund_id = '{f}' AND kind = 'fund';
                 UPDATE accounts SET posted = posted - {extra} WHERE fund_id = '{f}' AND kind = 'donations';"
            );
            match c {
                DbConnection::Pg(_) => c.batch_execute(&format!(
                    "SET LOCAL session_replication_role = replica; {edit}"
                ))?,
                DbConnection::Sqlite(_) => c.batch_execute(&format!(
                    "DROP TRIGGER IF EXISTS postings_no_update; {edit}"
                ))?,
            }
            Ok(())
        })
        .unwrap();
}

/// Verification reads a long chain in ranges of seqs, on two connections when the pool has a
/// spare one and on one when it has not; either way every entry is checked in chain order and
/// the first bad one is named, also in a range the second reader read.
async fn long_chains_verify_in_ranges(b: Backend) {
    const ENTRIES: i64 = 4_140;
    for (pool, bad_seq) in [(16, 2_500), (1, 4_050)] {
        let app = TestApp::spawn_with(b, |c| c.db_max_connections = pool).await;
        let admin = app.admin_token().await;
        let f = app.create_fund(&admin, "C21583", "Quỹ dài").await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let actor = app.user_id("admin");
        for _ in 0..9 {
            let (f, a) = (f.clone(), actor.clone());
            app.db
                .write(move |c| {
                    for _ in 0..ENTRIES / 9 {
                        storage::ledger::post(c, &donation(&f, &a, 100))?;
                    }
                    Ok(())
                })
                .unwrap();
        }
        let v = storage::ledger::verify(&app.db, &f).unwrap();
        assert!(v.ok, "{v:?}");
        assert_eq!((v.entries_checked, v.head_seq), (ENTRIES, ENTRIES));
        // The export streams the same chain in batches; the offline verifier agrees.
        for format in ["ndjson", "csv"] {
            let text = crate::audit::export(&app, &admin, &f, &format!("format={format}")).await;
            let (code, report) = crate::audit::run_verifier(&text, &[], None);
            assert_eq!(code, 0, "{format}, pool of {pool}: {report:#}");
            assert_eq!(report["ok"], true);
        }
        tamper(&app, &f, bad_seq, 100);
        let bad = storage::ledger::verify(&app.db, &f).unwrap();
        assert!(!bad.ok);
        assert_eq!(bad.first_bad_seq, Some(bad_seq), "pool of {pool}: {bad:?}");
        assert_eq!(bad.entries_checked, bad_seq - 1);
        assert_eq!(
            bad.problem.as_deref(),
            Some("the entry does not match its hash")
        );
    }
}

crate::both_backends!(
    long_chains_verify_in_ranges,
    holds_reserve_post_and_void_once,
    refused_entries_change_nothing,
    the_ledger_is_append_only,
    tampering_is_detected,
    concurrent_mixed_operations_keep_the_invariants,
    balances_as_of_match_a_replay,
);
