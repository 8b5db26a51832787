#!/usr/bin/env python3
"""Verify a relief-ledger export offline, trusting nothing but this file and what you saved.

    python3 tools/verify_export.py EXPORT [--checkpoint FILE ...] [--public-key HEX]

EXPORT is what GET /v1/funds/{id}/ledger/export returned (NDJSON or CSV; the format is
detected). The script recomputes every entry's hash from its fields and the previous hash,
checks that each entry links to the one before and that its postings balance per asset, and
that the opening balances plus the postings give the closing balances of every account.

Each --checkpoint FILE is a checkpoint saved earlier from GET /v1/funds/{id}/checkpoints (one
checkpoint object, or the whole page with "items"). Its Ed25519 signature is checked with
--public-key (the key from GET /v1/checkpoints/key, saved independently; without it, the key in
the checkpoint itself is used and the result says so), and if the export covers its seq, the
chain hash there must equal the signed one: a history rewritten after the checkpoint fails
here even if every hash in the export was recomputed.

Prints a JSON report and exits 0 when everything verifies, 1 when something does not, 2 on
bad usage. Python 3.8 or later, standard library only.
"""

import csv
import hashlib
import io
import json
import sys

GENESIS = "0" * 64

# --- Ed25519 verification (RFC 8032, section 5.1.7), standard library only -------------------

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_I = pow(2, (_P - 1) // 4, _P)


def _inv(x):
    return pow(x, _P - 2, _P)


def _recover_x(y, sign):
    if y >= _P:
        return None
    x2 = (y * y - 1) * _inv(_D * y * y + 1)
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _I % _P
    if (x * x - x2) % _P != 0:
        return None
    if (x & 1) != sign:
        x = _P - x
    return x


def _add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa = (y1 - x1) * (y2 - x2) % _P
    bb = (y1 + x1) * (y2 + x2) % _P
    cc = t1 * 2 * _D * t2 % _P
    dd = z1 * 2 * z2 % _P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _mul(s, p):
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _add(q, p)
        p = _add(p, p)
        s >>= 1
    return q


def _equal(a, b):
    x1, y1, z1, _ = a
    x2, y2, z2, _ = b
    return (x1 * z2 - x2 * z1) % _P == 0 and (y1 * z2 - y2 * z1) % _P == 0


_GY = 4 * _inv(5) % _P
_GX = _recover_x(_GY, 0)
_G = (_GX, _GY, 1, _GX * _GY % _P)


def _decompress(b):
    if len(b) != 32:
        return None
    y = int.from_bytes(b, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % _P)


def ed25519_verify(public, message, signature):
    if len(public) != 32 or len(signature) != 64:
        return False
    a = _decompress(public)
    r = _decompress(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= _L:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % _L
    return _equal(_mul(s, _G), _add(r, _mul(h, a)))


# --- The chain ----------------------------------------------------------------------------------


def _field(out, s):
    b = s.encode("utf-8")
    out += len(b).to_bytes(4, "big")
    out += b


def entry_hash(prev_hash, e):
    """SHA-256(prev_hash || canonical bytes), as in ARCHITECTURE.md, "Hash chain"."""
    out = bytearray()
    for f in (
        "relief.entry.v1",
        e["fund_id"],
        str(e["seq"]),
        e["entry_id"],
        e["kind"],
        str(e["effective_at"]),
        str(e["recorded_at"]),
        e["actor_id"],
        e["reason"],
        e["ref_type"] or "",
        e["ref_id"] or "",
        e["reverses_entry_id"] or "",
        str(len(e["postings"])),
    ):
        _field(out, f)
    for p in e["postings"]:
        for f in (p["account_id"], p["account_kind"], p["designation"], p["asset"], str(p["amount"])):
            _field(out, f)
    return hashlib.sha256(bytes.fromhex(prev_hash) + bytes(out)).hexdigest()


def read_ndjson(text):
    header, opening, entries, closing, end = None, [], [], [], None
    # Only "\n" ends a record: a reason may hold U+2028 and the like, which JSON leaves as is.
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        r = json.loads(line)
        t = r.get("type")
        if t == "header":
            header = r
        elif t == "opening":
            opening.append(r)
        elif t == "entry":
            r["fund_id"] = header["fund_id"] if header else ""
            entries.append(r)
        elif t == "closing":
            closing.append(r)
        elif t == "end":
            end = r
        else:
            raise ValueError("line %d: unknown record type %r" % (n, t))
    if header is None:
        raise ValueError("no header record")
    return {
        "fund_id": header["fund_id"],
        "first_seq": header["first_seq"],
        "prev_hash": header["prev_hash"],
        "opening": opening,
        "entries": entries,
        "closing": closing,
        "end": end,
    }


def _text(cell):
    """Undo the export's formula escaping: a text cell that starts with ' had one added."""
    return cell[1:] if cell.startswith("'") else cell


def read_csv(text):
    rows = csv.DictReader(io.StringIO(text))
    header, opening, entries, closing, end = None, [], [], [], None
    for r in rows:
        rec = r["record"]
        if rec == "header":
            header = r
        elif rec in ("opening", "closing"):
            b = {
                "account_id": r["account_id"],
                "account_kind": r["account_kind"],
                "designation": _text(r["designation"]),
                "asset": r["asset"],
                "amount": int(r["amount"]),
            }
            (opening if rec == "opening" else closing).append(b)
        elif rec == "entry":
            entries.append({
                "fund_id": r["fund_id"],
                "seq": int(r["seq"]),
                "entry_id": r["entry_id"],
                "kind": r["kind"],
                "effective_at": int(r["effective_at"]),
                "recorded_at": int(r["recorded_at"]),
                "actor_id": r["actor_id"],
                "reason": _text(r["reason"]),
                "ref_type": _text(r["ref_type"]),
                "ref_id": _text(r["ref_id"]),
                "reverses_entry_id": _text(r["reverses_entry_id"]),
                "prev_hash": r["prev_hash"],
                "hash": r["hash"],
                "posting_count": int(r["idx"]),
                "postings": [],
            })
        elif rec == "posting":
            if not entries or entries[-1]["entry_id"] != r["entry_id"]:
                raise ValueError("a posting of entry %s is out of place" % r["entry_id"])
            entries[-1]["postings"].append({
                "account_id": r["account_id"],
                "account_kind": r["account_kind"],
                "designation": _text(r["designation"]),
                "asset": r["asset"],
                "amount": int(r["amount"]),
            })
        elif rec == "end":
            end = {"last_seq": int(r["seq"]), "last_hash": r["hash"], "entries": int(r["idx"]),
                   "fund_head_seq": int(r["amount"]) if r["amount"] else None,
                   "fund_head_hash": r["prev_hash"] or None}
        else:
            raise ValueError("unknown record %r" % rec)
    if header is None:
        raise ValueError("no header record")
    for e in entries:
        if e["posting_count"] != len(e["postings"]):
            raise ValueError("entry %d: %d postings listed, %d present"
                             % (e["seq"], e["posting_count"], len(e["postings"])))
    return {
        "fund_id": header["fund_id"],
        "first_seq": int(header["seq"]) + 1,
        "prev_hash": header["hash"],
        "opening": opening,
        "entries": entries,
        "closing": closing,
        "end": end,
    }


def checkpoint_message(c):
    return ("relief.checkpoint.v1\n%s\n%d\n%s\n%d\n"
            % (c["fund_id"], c["seq"], c["hash"], c["signed_at_micros"])).encode("utf-8")


def verify(export, checkpoints, public_key):
    report = {"ok": False, "fund_id": export["fund_id"], "entries_checked": 0,
              "first_seq": export["first_seq"], "last_seq": export["first_seq"] - 1,
              "last_hash": export["prev_hash"], "checkpoints": [], "problems": []}
    problems = report["problems"]
    # Chain hash at each seq in the export, to check checkpoints against.
    hashes = {export["first_seq"] - 1: export["prev_hash"]}
    prev, seq = export["prev_hash"], export["first_seq"]
    balances = {}
    for b in export["opening"]:
        balances[b["account_id"]] = b["amount"]
        if export["first_seq"] == 1 and b["amount"] != 0:
            problems.append("account %s opens at %s before the first entry of the chain"
                            % (b["account_id"], b["amount"]))
    for e in export["entries"]:
        if e["fund_id"] != export["fund_id"]:
            problems.append("entry %s belongs to another fund" % e["seq"])
            break
        if e["seq"] != seq:
            problems.append("entry %d is missing (found %s)" % (seq, e["seq"]))
            break
        if e["prev_hash"] != prev:
            problems.append("entry %d does not link to the previous entry" % seq)
            break
        h = entry_hash(prev, e)
        if h != e["hash"]:
            problems.append("entry %d does not match its hash" % seq)
            break
        sums = {}
        for p in e["postings"]:
            sums[p["asset"]] = sums.get(p["asset"], 0) + p["amount"]
            balances[p["account_id"]] = balances.get(p["account_id"], 0) + p["amount"]
        if len(e["postings"]) < 2 or any(v != 0 for v in sums.values()):
            problems.append("entry %d does not balance" % seq)
            break
        hashes[seq] = h
        prev, seq = h, seq + 1
        report["entries_checked"] += 1
    report["last_seq"], report["last_hash"] = seq - 1, prev
    end = export["end"]
    if not problems:
        if end is None:
            problems.append("the export is truncated: no end record")
        elif (end["last_seq"] != seq - 1 or end["last_hash"] != prev
              or end.get("entries", report["entries_checked"]) != report["entries_checked"]):
            problems.append("the end record does not match the entries")
        closing = {b["account_id"]: b["amount"] for b in export["closing"]}
        for acc in sorted(set(closing) | set(balances)):
            if closing.get(acc, 0) != balances.get(acc, 0):
                problems.append("account %s closes at %s but opening plus postings give %s"
                                % (acc, closing.get(acc, 0), balances.get(acc, 0)))
    for c in checkpoints:
        r = {"seq": c["seq"], "signed_at": c.get("signed_at")}
        key = public_key or c.get("public_key") or ""
        r["key"] = "given" if public_key else "from the checkpoint itself (not independently pinned)"
        try:
            good = ed25519_verify(bytes.fromhex(key), checkpoint_message(c),
                                  bytes.fromhex(c["signature"]))
        except ValueError:
            good = False
        if c["fund_id"] != export["fund_id"]:
            r["status"] = "other fund"
        elif not good:
            r["status"] = "bad signature"
            problems.append("checkpoint at seq %d: the signature does not verify" % c["seq"])
        elif c["seq"] in hashes:
            if hashes[c["seq"]] == c["hash"]:
                r["status"] = "matches"
            else:
                r["status"] = "MISMATCH"
                problems.append("checkpoint at seq %d: the chain in the export differs from the "
                                "signed one; history was rewritten" % c["seq"])
        elif end is not None and end.get("fund_head_seq") is not None \
                and c["seq"] > end["fund_head_seq"]:
            r["status"] = "BEYOND THE HEAD"
            problems.append("checkpoint at seq %d: the fund's chain now ends at seq %d; entries "
                            "signed earlier are gone" % (c["seq"], end["fund_head_seq"]))
        else:
            r["status"] = "not covered by this export"
        report["checkpoints"].append(r)
    report["ok"] = not problems
    return report


def load_checkpoints(path):
    with open(path, encoding="utf-8") as f:
        v = json.load(f)
    items = v.get("items", [v]) if isinstance(v, dict) else v
    return items


def main(argv):
    args, checkpoints, public_key, export_path = list(argv), [], None, None
    while args:
        a = args.pop(0)
        if a == "--checkpoint" and args:
            checkpoints.extend(load_checkpoints(args.pop(0)))
        elif a == "--public-key" and args:
            public_key = args.pop(0).strip()
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        elif export_path is None and not a.startswith("--"):
            export_path = a
        else:
            print("usage: verify_export.py EXPORT [--checkpoint FILE ...] [--public-key HEX]",
                  file=sys.stderr)
            return 2
    if export_path is None:
        print("usage: verify_export.py EXPORT [--checkpoint FILE ...] [--public-key HEX]",
              file=sys.stderr)
        return 2
    with open(export_path, encoding="utf-8", newline="") as f:
        text = f.read()
    try:
        export = read_ndjson(text) if text.lstrip().startswith("{") else read_csv(text)
        report = verify(export, checkpoints, public_key)
    except (ValueError, KeyError, TypeError) as e:
        report = {"ok": False, "problems": ["the export cannot be read: %s" % e]}
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
