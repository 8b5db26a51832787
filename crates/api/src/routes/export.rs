//! Ledger export for auditors and signed checkpoints of the chain head.
//!
//! `GET /v1/funds/{id}/ledger/export` streams, in constant memory, the contiguous run of the
//! fund's chain recorded in `[from, to)`: a header with the hash before the first entry, the
//! opening balance of every account, every entry with its postings, seq, prev_hash and hash, the
//! closing balances and an end record. `tools/verify_export.py` recomputes everything from the
//! export alone and checks it against checkpoints an auditor saved earlier.

use crate::audit::Note;
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{encode_cursor, page_limit, seq_cursor, Query};
use crate::routes::funds::fund_in_scope;
use crate::routes::{query_instant, rfc3339};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use domain::checkpoint::CheckpointKey;
use domain::users::Role;
use std::collections::HashMap;
use storage::checkpoints::CheckpointRow;
use storage::export::{AccountSum, PostedEntry, Range};
use storage::funds::FundRow;
use storage::{DbConnection, StoreError};

/// Entries read per database round trip while streaming.
const BATCH: i64 = 2000;

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Ndjson,
}

/// The columns of the CSV export, in order. See ARCHITECTURE.md, "Ledger export".
const CSV_COLUMNS: &[&str] = &[
    "record",
    "fund_id",
    "seq",
    "entry_id",
    "kind",
    "effective_at",
    "recorded_at",
    "actor_id",
    "reason",
    "ref_type",
    "ref_id",
    "reverses_entry_id",
    "prev_hash",
    "hash",
    "idx",
    "account_id",
    "account_kind",
    "designation",
    "asset",
    "amount",
];

#[derive(serde::Deserialize)]
pub struct ExportQuery {
    format: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// Chunks in flight between the threads that read, format and send an export.
const CHANNEL_DEPTH: usize = 4;

/// `GET /v1/funds/{id}/ledger/export?format=csv|ndjson&from=&to=` (any staff role that can see
/// the fund): the chain recorded in `[from, to)`, streamed.
pub async fn export(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    query: Query<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.0;
    let format = match q.format.as_deref().unwrap_or("ndjson") {
        "ndjson" => Format::Ndjson,
        "csv" => Format::Csv,
        _ => return Err(ApiError::query("format", "must be csv or ndjson")),
    };
    let from = query_instant("from", q.from.as_deref())?;
    let to = query_instant("to", q.to.as_deref())?;
    let fund = fund_in_scope(&state, &user, path.into_inner()).await?;
    let mut note = Note::read("ledger_export", vec![fund.id.clone()]);
    note.fund(&fund).detail(serde_json::json!({
        "from": q.from, "to": q.to, "format": q.format,
    }));
    state.log_read(&user, note).await?;
    let id = fund.id.clone();
    let (range, opening, scales) = state
        .read(move |c| {
            let range = storage::export::range(c, &id, from, to)?;
            let opening = storage::export::balances_through(c, &id, range.first - 1)?;
            Ok((range, opening, storage::assets::scales(c)?))
        })
        .await?;
    let mut head = Vec::new();
    let header = serde_json::json!({
        "type": "header",
        "format": "relief.ledger.export.v1",
        "fund_id": fund.id,
        "fund_name": fund.name,
        "unit": {"edition": fund.unit_edition, "code": fund.unit_code},
        "exported_at": rfc3339(storage::now_micros()),
        "from": from.map(rfc3339),
        "to": to.map(rfc3339),
        "first_seq": range.first,
        "last_seq": range.last.max(range.first - 1),
        "prev_hash": range.prev_hash,
        "asset_scales": scales,
        "hash": "sha256, relief.entry.v1 (see ARCHITECTURE.md)",
    });
    match format {
        Format::Ndjson => {
            push_json(&mut head, &header);
            for a in &opening {
                push_json(&mut head, &balance_json("opening", a));
            }
        }
        Format::Csv => {
            let mut w = csv_writer(&mut head);
            write_row(&mut w, CSV_COLUMNS.iter().map(|s| (*s).to_owned()));
            write_row(
                &mut w,
                header_row(&fund, range.first - 1, &range.prev_hash, "header"),
            );
            for a in &opening {
                write_row(&mut w, balance_row(&fund.id, "opening", a));
            }
            drop(w);
        }
    }
    let first = futures_util::stream::once(async move { Ok::<_, ApiError>(Bytes::from(head)) });
    let rest = entries_stream(&state, fund.id.clone(), format, range, opening);
    use futures_util::StreamExt;
    let (content_type, ext) = match format {
        Format::Ndjson => ("application/x-ndjson", "ndjson"),
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"ledger-{}.{ext}\"", fund.id),
        ))
        .streaming(first.chain(rest)))
}

/// The entries of `range` and the closing records, as a stream of chunks. One blocking thread
/// holds a connection and reads the entries in batches of consecutive seqs; a second thread
/// formats each batch while the next is read, and hands the bytes to the response through a
/// bounded channel. So reading, formatting and sending overlap, memory stays bounded by the
/// channel, and a client that goes away stops both threads at their next send.
fn entries_stream(
    state: &AppState,
    fund_id: String,
    format: Format,
    range: Range,
    opening: Vec<AccountSum>,
) -> impl futures_util::Stream<Item = Result<Bytes, ApiError>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, ApiError>>(CHANNEL_DEPTH);
    let db = state.db.clone();
    let span = tracing::Span::current();
    actix_web::rt::task::spawn_blocking(move || {
        span.in_scope(|| {
            let out = tx.clone();
            let done = db.read(|c| produce(c, &fund_id, format, &range, opening, &out));
            if let Err(e) = done {
                let e = ApiError::from(e);
                tracing::error!(error = %e, "ledger export stopped");
                let _ = tx.blocking_send(Err(e));
            }
        });
    });
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    })
}

/// Reads the batches on this thread and formats them on another (see [`entries_stream`]), then
/// writes the closing balances (the opening ones plus the postings exported) and the end record.
fn produce(
    c: &mut DbConnection,
    fund_id: &str,
    format: Format,
    range: &Range,
    opening: Vec<AccountSum>,
    out: &tokio::sync::mpsc::Sender<Result<Bytes, ApiError>>,
) -> Result<(), StoreError> {
    let done = std::thread::scope(|s| -> Result<_, StoreError> {
        let (batches, rx) = std::sync::mpsc::sync_channel::<Vec<PostedEntry>>(2);
        let formatter = s.spawn(move || {
            let mut last_hash = range.prev_hash.clone();
            let mut entries = 0i64;
            let mut sums: HashMap<String, i128> = HashMap::new();
            for batch in rx {
                let mut chunk = Vec::with_capacity(batch.len() * 800);
                match format {
                    Format::Csv => {
                        let mut w = csv_writer(&mut chunk);
                        for pe in &batch {
                            write_entry_rows(&mut w, pe);
                        }
                    }
                    Format::Ndjson => {
                        for pe in &batch {
                            push_entry(&mut chunk, pe);
                        }
                    }
                }
                entries += i64::try_from(batch.len()).unwrap_or(i64::MAX);
                for p in batch.iter().flat_map(|pe| &pe.postings) {
                    match sums.get_mut(&p.account_id) {
                        Some(sum) => *sum += i128::from(p.amount),
                        None => {
                            sums.insert(p.account_id.clone(), i128::from(p.amount));
                        }
                    }
                }
                if let Some(pe) = batch.last() {
                    last_hash.clone_from(&pe.entry.hash);
                }
                if out.blocking_send(Ok(Bytes::from(chunk))).is_err() {
                    return None;
                }
            }
            Some((last_hash, entries, sums))
        });
        let mut after = range.first - 1;
        while after < range.last {
            let batch = storage::export::batch(c, fund_id, after, range.last, BATCH)?;
            let Some(pe) = batch.last() else {
                return Err(StoreError::Internal(format!(
                    "entries after seq {after} are missing from the ledger"
                )));
            };
            after = pe.entry.seq;
            if batches.send(batch).is_err() {
                break;
            }
        }
        drop(batches);
        formatter
            .join()
            .map_err(|_| StoreError::Internal("the export formatter panicked".into()))
    })?;
    // The client went away.
    let Some((last_hash, entries, mut sums)) = done else {
        return Ok(());
    };
    let last = range.last.max(range.first - 1);
    let mut closing = opening;
    for a in &mut closing {
        let sum = i128::from(a.amount) + sums.remove(&a.account_id).unwrap_or(0);
        a.amount = i64::try_from(sum)
            .map_err(|_| StoreError::Internal(format!("account {} overflows", a.account_id)))?;
    }
    if let Some(stray) = sums.keys().min() {
        return Err(StoreError::Internal(format!(
            "the fund's entries post to account {stray}, which is not the fund's"
        )));
    }
    let fund = storage::funds::get(c, fund_id)?;
    let end = serde_json::json!({
        "type": "end",
        "fund_id": fund_id,
        "last_seq": last,
        "last_hash": last_hash,
        "entries": entries,
        "fund_head_seq": fund.chain_seq,
        "fund_head_hash": fund.chain_head,
    });
    let mut chunk = Vec::new();
    match format {
        Format::Ndjson => {
            for a in &closing {
                push_json(&mut chunk, &balance_json("closing", a));
            }
            push_json(&mut chunk, &end);
        }
        Format::Csv => {
            let mut w = csv_writer(&mut chunk);
            for a in &closing {
                write_row(&mut w, balance_row(fund_id, "closing", a));
            }
            // The end row: seq and hash of the last entry exported, the number of entries in
            // `idx`, and the fund's head when the export ended in `prev_hash` and `amount`.
            let mut row = header_row(&fund, last, &last_hash, "end");
            row[12] = fund.chain_head.clone();
            row[14] = entries.to_string();
            row[19] = fund.chain_seq.to_string();
            write_row(&mut w, row);
            drop(w);
        }
    }
    let _ = out.blocking_send(Ok(Bytes::from(chunk)));
    Ok(())
}

fn push_json(out: &mut Vec<u8>, v: &serde_json::Value) {
    // Writing a `Value` to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, v);
    out.push(b'\n');
}

fn balance_json(kind: &str, a: &AccountSum) -> serde_json::Value {
    serde_json::json!({
        "type": kind,
        "account_id": a.account_id,
        "account_kind": a.kind,
        "designation": a.designation,
        "asset": a.asset,
        "amount": a.amount,
    })
}

/// An entry line of the NDJSON export, serialised straight from the rows (no intermediate
/// `serde_json::Value`: this is the export's hot loop).
#[derive(serde::Serialize)]
struct EntryLine<'a> {
    #[serde(rename = "type")]
    kind_of_record: &'static str,
    seq: i64,
    entry_id: &'a str,
    kind: &'a str,
    effective_at: i64,
    recorded_at: i64,
    actor_id: &'a str,
    reason: &'a str,
    ref_type: Option<&'a str>,
    ref_id: Option<&'a str>,
    reverses_entry_id: Option<&'a str>,
    prev_hash: &'a str,
    hash: &'a str,
    postings: Vec<PostingLine<'a>>,
}

#[derive(serde::Serialize)]
struct PostingLine<'a> {
    idx: i32,
    account_id: &'a str,
    account_kind: &'a str,
    designation: &'a str,
    asset: &'a str,
    amount: i64,
}

fn push_entry(out: &mut Vec<u8>, pe: &PostedEntry) {
    let e = &pe.entry;
    let line = EntryLine {
        kind_of_record: "entry",
        seq: e.seq,
        entry_id: &e.id,
        kind: &e.kind,
        effective_at: e.effective_at,
        recorded_at: e.recorded_at,
        actor_id: &e.actor_id,
        reason: &e.reason,
        ref_type: e.ref_type.as_deref(),
        ref_id: e.ref_id.as_deref(),
        reverses_entry_id: e.reverses_entry_id.as_deref(),
        prev_hash: &e.prev_hash,
        hash: &e.hash,
        postings: pe
            .postings
            .iter()
            .map(|p| PostingLine {
                idx: p.idx,
                account_id: &p.account_id,
                account_kind: &p.account_kind,
                designation: &p.designation,
                asset: &p.asset,
                amount: p.amount,
            })
            .collect(),
    };
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, &line);
    out.push(b'\n');
}

fn csv_writer(out: &mut Vec<u8>) -> csv::Writer<&mut Vec<u8>> {
    csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(out)
}

fn write_row(w: &mut csv::Writer<&mut Vec<u8>>, row: impl IntoIterator<Item = String>) {
    // Writing to a Vec cannot fail.
    let _ = w.write_record(row);
}

/// A text cell that a spreadsheet would run as a formula gets a leading `'` (and so does one
/// that starts with `'`, so that the verifier can strip exactly one).
fn text(s: &str) -> String {
    domain::text::csv_cell(s).into_owned()
}

fn empty_row() -> Vec<String> {
    vec![String::new(); CSV_COLUMNS.len()]
}

fn header_row(fund: &FundRow, seq: i64, hash: &str, record: &str) -> Vec<String> {
    let mut row = empty_row();
    row[0] = record.to_owned();
    row[1] = fund.id.clone();
    row[2] = seq.to_string();
    row[13] = hash.to_owned();
    row
}

fn balance_row(fund_id: &str, record: &str, a: &AccountSum) -> Vec<String> {
    let mut row = empty_row();
    row[0] = record.to_owned();
    row[1] = fund_id.to_owned();
    row[15] = a.account_id.clone();
    row[16] = a.kind.clone();
    row[17] = text(&a.designation);
    row[18] = a.asset.clone();
    row[19] = a.amount.to_string();
    row
}

fn write_entry_rows(w: &mut csv::Writer<&mut Vec<u8>>, pe: &PostedEntry) {
    let e = &pe.entry;
    let opt = |s: &Option<String>| s.as_deref().map(text).unwrap_or_default();
    write_row(
        w,
        [
            "entry".to_owned(),
            e.fund_id.clone(),
            e.seq.to_string(),
            e.id.clone(),
            e.kind.clone(),
            e.effective_at.to_string(),
            e.recorded_at.to_string(),
            e.actor_id.clone(),
            text(&e.reason),
            opt(&e.ref_type),
            opt(&e.ref_id),
            opt(&e.reverses_entry_id),
            e.prev_hash.clone(),
            e.hash.clone(),
            pe.postings.len().to_string(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ],
    );
    for p in &pe.postings {
        let mut row = empty_row();
        row[0] = "posting".to_owned();
        row[1] = e.fund_id.clone();
        row[2] = e.seq.to_string();
        row[3] = e.id.clone();
        row[14] = p.idx.to_string();
        row[15] = p.account_id.clone();
        row[16] = p.account_kind.clone();
        row[17] = text(&p.designation);
        row[18] = p.asset.clone();
        row[19] = p.amount.to_string();
        write_row(w, row);
    }
}

/// A checkpoint as served: everything needed to check its signature offline.
/// `key` is the current key: an older checkpoint signed by another key shows no public key (the
/// auditor checks it with the key they saved then).
fn checkpoint_view(c: &CheckpointRow, key: &CheckpointKey) -> serde_json::Value {
    let public_key = (c.key_id == key.key_id()).then(|| key.public_key_hex());
    serde_json::json!({
        "id": c.id,
        "fund_id": c.fund_id,
        "seq": c.seq,
        "hash": c.hash,
        "signed_at": rfc3339(c.signed_at),
        "signed_at_micros": c.signed_at,
        "algorithm": "ed25519",
        "key_id": c.key_id,
        "public_key": public_key,
        "signature": c.signature,
    })
}

#[derive(serde::Deserialize)]
pub struct CheckpointQuery {
    limit: Option<i64>,
    cursor: Option<String>,
}

/// `GET /v1/funds/{id}/checkpoints`: the fund's signed chain heads, newest first.
pub async fn checkpoints(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    query: Query<CheckpointQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_limit(query.0.limit)?;
    let before = seq_cursor(query.0.cursor.as_deref())?;
    let fund = fund_in_scope(&state, &user, path.into_inner()).await?;
    let mut rows = state
        .read(move |c| storage::checkpoints::list(c, &fund.id, before, limit))
        .await?;
    let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let key = &state.checkpoint_key;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "items": rows.iter().map(|c| checkpoint_view(c, key)).collect::<Vec<_>>(),
        "next_cursor": if more { rows.last().map(|c| encode_cursor(&c.seq.to_string())) } else { None },
    })))
}

/// `POST /v1/funds/{id}/checkpoints` (admin, fund manager or approver): signs the chain head
/// now; 201 with a new checkpoint, or 200 with the one that already signs this head.
pub async fn sign(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin, Role::FundManager, Role::Approver])?;
    let fund = fund_in_scope(&state, &user, path.into_inner()).await?;
    let key = state.checkpoint_key.clone();
    let (view, created) = state
        .write(&user, move |c, note| {
            let (row, created) = storage::checkpoints::sign_head(c, &key, &fund.id)?;
            let view = checkpoint_view(&row, &key);
            note.entity("checkpoint", &row.id)
                .fund(&fund)
                .detail(view.clone());
            Ok((view, created))
        })
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(HttpResponse::build(status).json(view))
}

/// `GET /v1/checkpoints/key` (no login): the public key that signs checkpoints, for auditors to
/// save independently of the checkpoints themselves.
pub async fn public_key(state: web::Data<AppState>, _req: HttpRequest) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "algorithm": "ed25519",
        "key_id": state.checkpoint_key.key_id(),
        "public_key": state.checkpoint_key.public_key_hex(),
        "message_format": "relief.checkpoint.v1\\n{fund_id}\\n{seq}\\n{hash}\\n{signed_at_micros}\\n",
    }))
}

/// Signs every chain head not yet covered by a checkpoint of the current key. Run periodically
/// by the server and on demand by `relief ledger checkpoint`.
pub fn sign_all(
    db: &storage::Db,
    key: &domain::checkpoint::CheckpointKey,
) -> Result<usize, storage::StoreError> {
    let ids = db.read(|c| storage::checkpoints::unsigned_heads(c, &key.key_id()))?;
    let mut n = 0;
    for id in ids {
        let (_, created) = db.write(|c| storage::checkpoints::sign_head(c, key, &id))?;
        if created {
            n += 1;
        }
    }
    Ok(n)
}
