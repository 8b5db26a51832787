#!/usr/bin/env python3
"""Seeds a fresh relief service for the API fuzz run (.ci/fuzz) and writes the schemathesis
configuration that points the fuzzer at the seeded records.

Usage: fuzz_seed.py BASE_URL ADMIN_PASSWORD OUT_TOML

Writes OUT_TOML and, beside it, OUT_TOML.tokens: a JSON object of an access token per role.

Through the public API only, as an operator would: users of every role (the fund manager and
approvers scoped to province P52), two funds with opening balances, a campaign, a donation with
its donor, a bank statement, an incident with a household and its assessment, a proposed
disbursement and a proposed allocation, and a checkpoint. The written TOML takes the token of
the role under test from FUZZ_TOKEN, and holds, as schemathesis dictionaries, the ids of these
records, so that paths with ids reach real records most of the time instead of 404 only.
Python 3.8+, no packages.
"""

import datetime
import json
import sys
import urllib.error
import urllib.request
import uuid

BASE, ADMIN_PASSWORD, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
COMMUNE, PROVINCE = "C21583", "P52"  # Phường Quy Nhơn, in Gia Lai (edition 2025)
PASSWORD = "fuzz-password-long-enough"


def call(method, path, token=None, body=None, expect=(200, 201), raw=None, headers=None):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(BASE + path, data=data, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=60) as res:
            status, text = res.status, res.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    if status not in expect:
        sys.exit(f"seed: {method} {path} answered {status}: {text}")
    return json.loads(text) if text else None


def login(username, password):
    return call("POST", "/v1/auth/token", body={"username": username, "password": password})[
        "access_token"
    ]


def user(admin, username, role, scope):
    body = {"username": username, "password": PASSWORD, "display_name": username, "role": role}
    if scope:
        body["scope_unit"] = scope
    return call("POST", "/v1/users", admin, body)["id"]


def fund(token, unit, name, bank, account):
    return call(
        "POST",
        "/v1/funds",
        token,
        {
            "unit": unit,
            "name": name,
            "custodian": "Ủy ban MTTQ " + name,
            "custodian_kind": "fatherland_front",
            "bank_accounts": [{"bank": bank, "account_number": account, "account_name": "MTTQ"}],
        },
    )


def main():
    vn_today = (datetime.datetime.utcnow() + datetime.timedelta(hours=7)).date()
    yesterday = vn_today - datetime.timedelta(days=1)
    admin = login("admin", ADMIN_PASSWORD)
    users = [
        user(admin, "fuzz.fm", "fund_manager", PROVINCE),
        user(admin, "fuzz.ap1", "approver", PROVINCE),
        user(admin, "fuzz.ap2", "approver", PROVINCE),
        user(admin, "fuzz.auditor", "auditor", None),
    ]
    fm = login("fuzz.fm", PASSWORD)

    commune = fund(fm, COMMUNE, "phường Quy Nhơn", "BIDV", "58010001234567")
    province = fund(admin, PROVINCE, "tỉnh Gia Lai", "Vietcombank", "0071000123456")
    funds = [commune["id"], province["id"]]
    bank = commune["bank_accounts"][0]["id"]
    entries = []
    for f in funds:
        entry = call(
            "POST",
            f"/v1/funds/{f}/opening-balances",
            admin,
            {
                "lines": [
                    {"asset": "VND", "amount": "5000000000"},
                    {"asset": "RICE_KG", "amount": "2500.5"},
                ],
                "effective_at": f"{yesterday}T00:00:00+07:00",
                "reason": "số dư chuyển sang",
            },
        )
        entries.append(entry["id"])

    campaign = call(
        "POST",
        "/v1/campaigns",
        fm,
        {
            "fund_id": funds[0],
            "name": "Ủng hộ đồng bào bị thiệt hại do bão",
            "appeal_ref": "15/TB-MTTQ",
            "opens_on": str(yesterday),
            "closes_on": str(yesterday + datetime.timedelta(days=60)),
            "bank_account_id": bank,
        },
    )["id"]
    donation = call(
        "POST",
        "/v1/donations",
        fm,
        {
            "fund_id": funds[0],
            "campaign_id": campaign,
            "status": "received",
            "channel": "cash",
            # Noon yesterday in Vietnam: never in the future (00:30 today was, from 17:00 to
            # 17:30 UTC), and inside the campaign, which opened yesterday.
            "received_at": f"{yesterday}T12:00:00+07:00",
            "donor": {"kind": "individual", "name": "Nguyễn Văn An", "phone": "0905 123 456"},
            "lines": [{"asset": "VND", "amount": "500000"}],
        },
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    donations, donors = [donation["id"]], [donation["donor"]["id"]]
    receipt_no = donation["receipt_no"]

    day = yesterday.strftime("%d/%m/%Y")
    csv = (
        "STT;Ngày giao dịch;Số tham chiếu;Số tiền ghi nợ;Số tiền ghi có;Tên người chuyển;Nội dung chi tiết\n"
        f"1;{day} 10:15:00;FT26331000111;;2.000.000;NGUYEN THI BINH;ung ho dong bao\n"
    )
    statement = call(
        "POST",
        f"/v1/bank-statements?bank_account_id={bank}",
        fm,
        raw=csv.encode(),
        headers={"Content-Type": "text/csv"},
    )
    statements = [statement["id"]]
    recon = call("GET", f"/v1/bank-statements/{statement['id']}/reconciliation", fm)
    lines = [line["id"] for line in recon["unmatched_in_bank"]]

    incident = call(
        "POST",
        "/v1/incidents",
        fm,
        {
            "kind": "flood",
            "name": "Lũ lụt phường Quy Nhơn",
            "started_at": f"{yesterday}T08:00:00+07:00",
            "units": [{"code": COMMUNE}],
        },
    )["id"]
    household = call(
        "POST",
        "/v1/households",
        fm,
        {
            "unit": COMMUNE,
            "head_name": "Trần Thị Bình",
            "head_birth_year": 1975,
            "head_sex": "female",
            "address": "Tổ 5, khu phố 2",
            "poverty_status": "poor",
            "members": [{"name": "Nguyễn Văn Tư", "birth_year": 1990, "sex": "male", "flags": []}],
        },
    )["id"]
    assessment = call(
        "POST",
        f"/v1/incidents/{incident}/assessments",
        fm,
        {
            "household_id": household,
            "deaths": 0,
            "missing": 0,
            "severely_injured": 0,
            "house_damage": "collapsed",
            "people_needing_food": 2,
            "months_of_food": 3,
            "assessor": "Cán bộ địa chính phường",
            "assessed_on": str(vn_today),
        },
    )["id"]
    disbursement = call(
        "POST",
        "/v1/disbursements",
        fm,
        {
            "fund_id": funds[0],
            "household_id": household,
            "purpose": "Hỗ trợ khẩn cấp",
            "lines": [{"category": "food", "asset": "VND", "amount": "1000000"}],
        },
    )["id"]
    allocation = call(
        "POST",
        "/v1/allocations",
        fm,
        {
            "from_fund_id": funds[1],
            "to_fund_id": funds[0],
            "decision_ref": "12/QĐ-UBND",
            "round": 1,
            "purpose": "Phân bổ đợt 1",
            "lines": [{"asset": "VND", "amount": "20000000"}],
        },
    )["id"]
    call("POST", f"/v1/funds/{funds[0]}/checkpoints", fm, expect=(200, 201))

    tokens = {
        "admin": admin,
        "fund_manager": fm,
        "approver": login("fuzz.ap1", PASSWORD),
        "auditor": login("fuzz.auditor", PASSWORD),
    }
    write_config(
        tokens,
        {
            "funds": funds,
            "entries": entries,
            "campaigns": [campaign],
            "donations": donations,
            "donors": donors,
            "bank_accounts": [bank],
            "statements": statements,
            "statement_lines": lines,
            "incidents": [incident],
            "households": [household],
            "assessments": [assessment],
            "disbursements": [disbursement],
            "allocations": [allocation],
            "users": users,
            "units": [COMMUNE, PROVINCE],
            "receipts": [receipt_no],
        },
    )


# Path prefixes whose `{id}` names a record of the dictionary, most specific first.
PATH_IDS = [
    ("^/v1/funds/\\{id\\}/ledger/\\{entry_id\\}", {"id": "funds", "entry_id": "entries"}),
    ("^/v1/bank-statements/\\{id\\}/lines", {"id": "statements", "line_id": "statement_lines"}),
    ("^/v1/funds/", {"id": "funds"}),
    ("^/v1/public/funds/", {"id": "funds"}),
    ("^/v1/reports/funds/", {"id": "funds"}),
    ("^/v1/campaigns/", {"id": "campaigns"}),
    ("^/v1/public/campaigns/", {"id": "campaigns"}),
    ("^/v1/donors/", {"id": "donors"}),
    ("^/v1/donations/", {"id": "donations"}),
    ("^/v1/bank-statements/", {"id": "statements"}),
    ("^/v1/incidents/", {"id": "incidents"}),
    ("^/v1/public/incidents/", {"id": "incidents"}),
    ("^/v1/reports/incidents/", {"id": "incidents"}),
    ("^/v1/households/", {"id": "households"}),
    ("^/v1/assessments/", {"id": "assessments"}),
    ("^/v1/disbursements/", {"id": "disbursements"}),
    ("^/v1/allocations/", {"id": "allocations"}),
]

# Query and body fields that name records, wherever they appear.
FIELD_IDS = {
    "fund_id": "funds",
    "from_fund_id": "funds",
    "to_fund_id": "funds",
    "campaign_id": "campaigns",
    "donor_id": "donors",
    "bank_account_id": "bank_accounts",
    "incident_id": "incidents",
    "household_id": "households",
    "assessment_id": "assessments",
    "unit": "units",
    "scope_unit": "units",
    "receipt_no": "receipts",
}

# How often a dictionary value replaces a generated one: mostly real records, some random ids.
P = 0.8


def write_config(tokens, ids):
    def q(s):
        return json.dumps(s)

    out = ["# Written by .ci/fuzz_seed.py for one fuzz run; not kept.", ""]
    out.append("[dictionaries]")
    for name, values in ids.items():
        out.append(f"{name} = {{ values = [{', '.join(q(v) for v in values)}] }}")
    out.append("")
    out.append("[parameters]")
    for field, name in FIELD_IDS.items():
        binding = f"{{ dictionary = {q(name)}, probability = {P} }}"
        out.append(f"{q('query.' + field)} = {binding}")
        out.append(f"{q('body.' + field)} = {binding}")
    out.append("")
    # The token of the role under test, chosen by .ci/fuzz for each run.
    out.append("[auth.openapi.bearerAuth]")
    out.append('bearer = "${FUZZ_TOKEN}"')
    out.append("")
    for regex, params in PATH_IDS:
        out.append("[[operations]]")
        out.append(f"include-path-regex = {q(regex)}")
        bindings = ", ".join(
            f"{q('path.' + p)} = {{ dictionary = {q(d)}, probability = {P} }}"
            for p, d in params.items()
        )
        out.append(f"parameters = {{ {bindings} }}")
        out.append("")
    with open(OUT, "w", encoding="utf-8") as f:
        f.write("\n".join(out))
    with open(OUT + ".tokens", "w", encoding="utf-8") as f:
        f.write(json.dumps(tokens))


if __name__ == "__main__":
    main()
