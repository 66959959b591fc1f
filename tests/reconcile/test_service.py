"""Reconciliation as a service: statements, jobs, runs, results, exports and review."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.conftest import make_settings
from tests.connections.conftest import accounts, connect

from ledgerbridge import runtime
from ledgerbridge.app import create_app
from ledgerbridge.connections.models import Connection
from ledgerbridge.reconcile import runs
from ledgerbridge.reconcile.workflows import SCHEDULED_WORKFLOW, schedule_name
from ledgerbridge.services import Services
from ledgerbridge.sync import engine
from ledgerbridge.sync import service as sync_service
from ledgerbridge.sync.models import Record

FIXTURES = Path(__file__).parent / "fixtures"

BANK = """date,description,amount,id
2024-03-01,Payment INV-100 Acme Ltd,100.00,b1
2024-03-02,Beta GmbH transfer,250.00,b2
2024-03-03,Card fee,-4.50,b3
2024-03-04,Payment INV-300 Gamma SA,297.10,b4
2024-03-06,Transfer from Delta Co,500.00,b5
2024-03-07,INV-600 Zeta BV,105.00,b6
"""
INVOICES = """date,number,amount,customer,id
2024-02-28,INV-100,100.00,Acme Ltd,i1
2024-02-27,INV-200,250.00,Beta GmbH,i2
2024-02-29,INV-300,300.00,Gamma SA,i3
2024-03-01,INV-400,500.00,Delta Co,i4
2024-03-01,INV-500,500.00,Delta Co,i5
2024-03-05,INV-600,90.00,Zeta BV,i6
"""
BANK_MAPPING = {
    "date_column": "date",
    "amount_column": "amount",
    "description_columns": ["description"],
    "id_column": "id",
    "default_currency": "EUR",
}
INVOICE_MAPPING = {
    "date_column": "date",
    "amount_column": "amount",
    "description_columns": ["number"],
    "reference_column": "number",
    "counterparty_column": "customer",
    "id_column": "id",
    "default_currency": "EUR",
}


def upload(
    rc: TestClient, headers: dict[str, str], content: str | bytes, filename: str, **form: str
) -> Any:
    data = content.encode() if isinstance(content, str) else content
    return rc.post("/v1/statements", files={"file": (filename, data)}, data=form, headers=headers)


def statement(
    rc: TestClient, headers: dict[str, str], content: str, mapping: dict[str, Any]
) -> str:
    answer = upload(rc, headers, content, "s.csv", mapping=json.dumps(mapping))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def make_job(rc: TestClient, headers: dict[str, str], **extra: Any) -> dict[str, Any]:
    left = statement(rc, headers, BANK, BANK_MAPPING)
    right = statement(rc, headers, INVOICES, INVOICE_MAPPING)
    body = {
        "name": "bank vs invoices",
        "left": {"type": "statement", "statement_id": left},
        "right": {"type": "statement", "statement_id": right},
        **extra,
    }
    answer = rc.post("/v1/reconciliation/jobs", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    job: dict[str, Any] = answer.json()
    return job


def start(rc: TestClient, headers: dict[str, str], job_id: str, **params: Any) -> str:
    answer = rc.post(f"/v1/reconciliation/jobs/{job_id}/runs", params=params, headers=headers)
    assert answer.status_code == 202, answer.text
    assert answer.headers["Location"] == f"/v1/reconciliation/runs/{answer.json()['run_id']}"
    return str(answer.json()["run_id"])


def get(rc: TestClient, headers: dict[str, str], path: str, **params: Any) -> Any:
    answer = rc.get(path, params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def csv_rows(rc: TestClient, headers: dict[str, str], path: str, **params: Any) -> list[list[str]]:
    answer = rc.get(path, params={**params, "format": "csv"}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    return list(csv.reader(io.StringIO(answer.text)))


def all_matches(rc: TestClient, headers: dict[str, str], run_id: str) -> list[dict[str, Any]]:
    found, cursor = [], None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = get(rc, headers, f"/v1/reconciliation/runs/{run_id}/matches", **params)
        found += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            return found


def texts(match: dict[str, Any]) -> tuple[list[str], list[str]]:
    """A match by its items' own words: the bank texts left, the invoice numbers right."""
    return [i["text"] for i in match["left"]], [i["text"] for i in match["right"]]


def by_texts(matches: list[dict[str, Any]]) -> dict[tuple[str, ...], dict[str, Any]]:
    return {(*texts(m)[0], *texts(m)[1]): m for m in matches}


def test_a_run_reports_matches_with_reasons_unmatched_items_discrepancies_and_totals(
    rc: TestClient, run_job: Callable[[str], None], auth: Any, tenant: str
) -> None:
    headers = auth(tenant)
    job = make_job(rc, headers)
    run_id = start(rc, headers, job["id"])
    assert get(rc, headers, f"/v1/reconciliation/runs/{run_id}")["status"] == "queued"
    run_job(run_id)
    run_job(run_id)  # a replay after a crash changes nothing

    run = get(rc, headers, f"/v1/reconciliation/runs/{run_id}")
    assert run["status"] == "succeeded" and run["progress"] == 100
    assert (run["left_count"], run["right_count"]) == (6, 6)
    assert run["counts"] == {
        "auto_matched": 3,  # Gamma SA's part payment is a partial match
        "suggested": 1,  # Delta Co paid 500.00 once; it has two invoices of 500.00
        "confirmed": 0,
        "rejected": 0,
        "unreconciled": 0,
        "unmatched_left": 1,
        "unmatched_right": 1,
        "discrepancies": 1,
    }
    assert run["totals"]["EUR"] == {
        "matched_left": "1147.1",
        "matched_right": "1150",
        "unmatched_left": "-4.5",
        "unmatched_right": "500",
        "discrepancy_left": "105",
        "discrepancy_right": "90",
    }

    matches = by_texts(all_matches(rc, headers, run_id))
    acme = matches["Payment INV-100 Acme Ltd", "INV-100"]
    assert acme["status"] == "auto_matched" and acme["rule"] == "reference"
    assert "reference INV-100 found in memo" in acme["explanation"]
    assert {e["field"] for e in acme["evidence"]} >= {"reference", "amount", "date"}
    delta = next(m for key, m in matches.items() if key[0] == "Transfer from Delta Co")
    assert delta["status"] == "suggested" and "review needed" in delta["explanation"]

    discrepancies = get(rc, headers, f"/v1/reconciliation/runs/{run_id}/discrepancies")["data"]
    assert sorted((d["kind"], d["left_value"], d["right_value"]) for d in discrepancies) == [
        ("amount", "105.00 EUR", "90.00 EUR"),  # paying more than the invoice
    ]
    gamma = matches["Payment INV-300 Gamma SA", "INV-300"]
    assert (gamma["rule"], gamma["remaining"]) == ("partial payment", "2.90")
    assert "partly paid: 297.10 EUR of 300.00 EUR; 2.90 EUR remains open" in gamma["explanation"]
    assert all("INV-" in d["explanation"] for d in discrepancies)
    unmatched = get(rc, headers, f"/v1/reconciliation/runs/{run_id}/unmatched", side="left")
    assert [i["text"] for i in unmatched["data"]] == ["Card fee"]
    both = get(rc, headers, f"/v1/reconciliation/runs/{run_id}/unmatched")["data"]
    assert sorted(i["side"] for i in both) == ["left", "right"]

    exported = csv_rows(rc, headers, f"/v1/reconciliation/runs/{run_id}/matches")
    assert exported[0][:4] == ["match_id", "status", "score", "rule"]
    assert sorted(row[1] for row in exported[1:]) == [
        "auto_matched",
        "auto_matched",
        "auto_matched",
        "suggested",
    ]
    assert exported[0][-1] == "remaining" and sorted(row[-1] for row in exported[1:])[-1] == "2.90"
    assert len(csv_rows(rc, headers, f"/v1/reconciliation/runs/{run_id}/discrepancies")) == 2
    left_csv = csv_rows(rc, headers, f"/v1/reconciliation/runs/{run_id}/unmatched", side="left")
    assert [row[4:6] for row in left_csv[1:]] == [["-4.50", "EUR"]]

    events = get(rc, headers, "/v1/events", type="reconciliation.completed")["data"]
    assert [e["data"]["run_id"] for e in events] == [run_id]  # once, despite the replay
    assert events[0]["data"]["counts"] == run["counts"]


def test_review_decisions_are_remembered_by_later_runs(
    rc: TestClient, run_job: Callable[[str], None], auth: Any, tenant: str
) -> None:
    headers, reviewer = auth(tenant, "developer"), auth(tenant, "developer", sub="reviewer-7")
    job = make_job(rc, headers)
    first = start(rc, headers, job["id"])
    run_job(first)
    matches = by_texts(all_matches(rc, headers, first))
    delta = next(m for key, m in matches.items() if key[0] == "Transfer from Delta Co")
    beta = matches["Beta GmbH transfer", "INV-200"]

    confirmed = rc.post(f"/v1/reconciliation/matches/{delta['id']}/confirm", headers=reviewer)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "confirmed"
    assert confirmed.json()["reviewed_by"] == "reviewer-7"
    rejected = rc.post(f"/v1/reconciliation/matches/{beta['id']}/reject", headers=reviewer)
    assert rejected.json()["status"] == "rejected"
    again = rc.post(f"/v1/reconciliation/matches/{beta['id']}/confirm", headers=reviewer)
    assert again.status_code == 409 and again.json()["error"] == "conflict"
    zeta = get(rc, headers, f"/v1/reconciliation/runs/{first}/unmatched")["data"]
    assert {i["text"] for i in zeta} >= {"Beta GmbH transfer", "INV-200"}  # freed by the reject
    ids = {
        i["text"]: i["item_id"]
        for m in all_matches(rc, headers, first)
        for i in m["left"] + m["right"]
    }
    items = get(rc, headers, f"/v1/reconciliation/runs/{first}/unmatched")["data"]
    ids |= {i["text"]: i["item_id"] for i in items}
    # Zeta's 105.00 against INV-600's 90.00 is a discrepancy; the reviewer knows better.
    discrepancy_ids = get(rc, headers, f"/v1/reconciliation/runs/{first}/discrepancies")["data"]
    zeta_pair = next(d for d in discrepancy_ids if d["left_value"] == "105.00 EUR")
    manual = rc.post(
        f"/v1/reconciliation/jobs/{job['id']}/matches",
        json={"left_ids": [zeta_pair["left_id"]], "right_ids": [zeta_pair["right_id"]]},
        headers=reviewer,
    )
    assert manual.status_code == 201, manual.text
    assert manual.json()["status"] == "confirmed" and manual.json()["rule"] == "manual"
    busy = rc.post(
        f"/v1/reconciliation/jobs/{job['id']}/matches",
        json={"left_ids": [zeta_pair["left_id"]], "right_ids": [ids["INV-100"]]},
        headers=reviewer,
    )
    assert busy.status_code == 409 and "already in a match" in busy.json()["message"]
    unknown = rc.post(
        f"/v1/reconciliation/jobs/{job['id']}/matches",
        json={"left_ids": ["line:999999"], "right_ids": [ids["INV-100"]]},
        headers=reviewer,
    )
    assert unknown.status_code == 422 and "line:999999" in unknown.json()["message"]
    counts = get(rc, headers, f"/v1/reconciliation/runs/{first}")["counts"]
    assert (counts["confirmed"], counts["rejected"], counts["discrepancies"]) == (2, 1, 0)

    second = start(rc, headers, job["id"])
    run_job(second)
    later = by_texts(all_matches(rc, headers, second))
    assert later[(*delta_texts(delta),)]["status"] == "confirmed"
    assert ("Beta GmbH transfer", "INV-200") not in later
    assert later["INV-600 Zeta BV", "INV-600"]["status"] == "confirmed"
    decisions = get(rc, headers, f"/v1/reconciliation/jobs/{job['id']}/decisions")["data"]
    assert sorted(d["kind"] for d in decisions) == ["confirmed", "confirmed", "rejected"]
    assert {d["decided_by"] for d in decisions} == {"reviewer-7"}

    old = rc.post(f"/v1/reconciliation/matches/{delta['id']}/unreconcile", headers=reviewer)
    assert old.status_code == 409 and f"run {second}" in old.json()["message"]
    undo = later["INV-600 Zeta BV", "INV-600"]
    undone = rc.post(f"/v1/reconciliation/matches/{undo['id']}/unreconcile", headers=reviewer)
    assert undone.status_code == 200 and undone.json()["status"] == "unreconciled"
    third = start(rc, headers, job["id"])
    run_job(third)
    assert ("INV-600 Zeta BV", "INV-600") not in by_texts(all_matches(rc, headers, third))
    assert len(get(rc, headers, f"/v1/reconciliation/runs/{third}/discrepancies")["data"]) == 1
    history = get(
        rc, headers, f"/v1/reconciliation/jobs/{job['id']}/decisions", include_revoked=True
    )["data"]
    revoked = [d for d in history if d["revoked_at"]]
    assert [(d["kind"], d["revoked_by"]) for d in revoked] == [("confirmed", "reviewer-7")]


def delta_texts(match: dict[str, Any]) -> tuple[str, ...]:
    left, right = texts(match)
    return (*left, *right)


def test_a_dry_run_previews_a_rule_change_as_matches_gained_and_lost(
    rc: TestClient, run_job: Callable[[str], None], auth: Any, tenant: str
) -> None:
    headers = auth(tenant, "developer")
    job = make_job(rc, headers)
    real = start(rc, headers, job["id"])
    run_job(real)
    config = dict(job["config"])
    config["rules"] = [
        {**rule, "abs_tolerance": "3.00"} if rule["kind"] == "amount" else rule
        for rule in config["rules"]
    ]
    refused = rc.post(
        f"/v1/reconciliation/jobs/{job['id']}/runs", json={"config": config}, headers=headers
    )
    assert refused.status_code == 422 and "dry_run" in refused.json()["message"]
    answer = rc.post(
        f"/v1/reconciliation/jobs/{job['id']}/runs",
        params={"dry_run": "true"},
        json={"config": config},
        headers=headers,
    )
    assert answer.status_code == 202, answer.text
    preview = answer.json()["run_id"]
    run_job(preview)

    run = get(rc, headers, f"/v1/reconciliation/runs/{preview}")
    assert run["dry_run"] is True and run["compared_with_run_id"] == real
    # Gamma SA's 297.10 against 300.00: a partial match before, a full one with 3.00.
    assert run["changes"]["gained_count"] == 1 and run["changes"]["lost_count"] == 1
    [gained] = run["changes"]["gained"]
    [lost] = run["changes"]["lost"]
    assert (lost["left_ids"], lost["right_ids"]) == (gained["left_ids"], gained["right_ids"])
    gained_match = next(
        m
        for m in all_matches(rc, headers, preview)
        if m["left"][0]["item_id"] in gained["left_ids"]
    )
    assert texts(gained_match) == (["Payment INV-300 Gamma SA"], ["INV-300"])
    assert "2.90" in gained_match["explanation"]
    review = rc.post(f"/v1/reconciliation/matches/{gained_match['id']}/confirm", headers=headers)
    assert review.status_code == 409  # a preview is not reviewed
    assert get(rc, headers, f"/v1/reconciliation/jobs/{job['id']}")["config"] == job["config"]


BAD_FILES = [
    ("bad_date.csv", {"preset": "generic", "currency": "EUR"}),
    ("bad_fields.csv", {"preset": "generic", "currency": "EUR"}),
    ("bad_amount.ofx", {}),
    ("bad_amount.camt053.xml", {}),
]


def test_statements_import_all_or_nothing_and_only_once(
    rc: TestClient, auth: Any, tenant: str
) -> None:
    headers = auth(tenant, "developer")
    for name, form in BAD_FILES:
        answer = upload(rc, headers, (FIXTURES / name).read_bytes(), name, **form)
        assert answer.status_code == 422, (name, answer.text)
        body = answer.json()
        assert body["error"] == "invalid_statement" and body["details"]["line"], name
        assert f"line {body['details']['line']}" in body["message"]
    assert get(rc, headers, "/v1/statements")["data"] == []

    imported = {}
    for name, form, count in [
        ("generic.csv", {"preset": "generic", "currency": "EUR"}, 3),
        ("statement.ofx", {}, None),
        ("statement.camt053.xml", {}, None),
    ]:
        content = (FIXTURES / name).read_bytes()
        answer = upload(rc, headers, content, name, **form)
        assert answer.status_code == 201, answer.text
        statement = answer.json()
        assert statement["line_count"] > 0 and (count is None or statement["line_count"] == count)
        lines = get(rc, headers, f"/v1/statements/{statement['id']}/lines", limit=100)["data"]
        assert len(lines) == statement["line_count"]
        assert all(line["item_id"] == f"line:{line['id']}" for line in lines)
        repeat = upload(rc, headers, content, name, **form)
        assert repeat.status_code == 200 and repeat.json()["id"] == statement["id"]
        imported[name] = statement
    assert imported["statement.ofx"]["format"] == "ofx"
    assert imported["statement.camt053.xml"]["format"] == "camt053"
    assert len(get(rc, headers, "/v1/statements")["data"]) == 3

    for form, filename, expected in [
        ({}, "statement.txt", "format"),
        ({}, "s.csv", "preset"),
        ({"mapping": "{not json"}, "s.csv", "mapping"),
        ({"mapping": json.dumps({"date_column": "date"})}, "s.csv", "mapping"),
        ({"preset": "nope", "currency": "EUR"}, "s.csv", "preset"),
        ({"preset": "generic"}, "statement.ofx", "CSV"),
    ]:
        answer = upload(rc, headers, "date,description,amount\n", filename, **form)
        assert answer.status_code == 422, (form, answer.text)
        assert expected in answer.json()["message"], answer.json()
    twice = "date,description,amount,id\n2024-01-01,a,1.00,X\n2024-01-02,b,2.00,X\n"
    mapping = {**BANK_MAPPING}
    answer = upload(rc, headers, twice, "s.csv", mapping=json.dumps(mapping))
    assert answer.status_code == 422 and "repeats the one on line 2" in answer.json()["message"]
    assert len(get(rc, headers, "/v1/statements")["data"]) == 3

    deleted = rc.delete(f"/v1/statements/{imported['generic.csv']['id']}", headers=headers)
    assert deleted.status_code == 204
    assert (
        rc.get(f"/v1/statements/{imported['generic.csv']['id']}", headers=headers).status_code
        == 404
    )


def test_jobs_refuse_unknown_sources_bad_rules_and_bad_schedules(
    rc: TestClient, auth: Any, tenant: str
) -> None:
    headers = auth(tenant, "developer")
    mine = statement(rc, headers, BANK, BANK_MAPPING)
    theirs = statement(rc, auth(tenant + "-other", "developer"), BANK, BANK_MAPPING)
    source = {"type": "statement", "statement_id": mine}
    base = {"name": "j", "left": source, "right": source}
    cases = [
        ({"right": {"type": "statement", "statement_id": theirs}}, "unknown_source"),
        (
            {"right": {"type": "records", "connection_id": "999999", "kinds": ["invoices"]}},
            "unknown_source",
        ),
        (
            {"right": {"type": "records", "connection_id": "1", "kinds": ["orders"]}},
            "validation_error",
        ),
        (
            {"left": {**source, "date_from": "2024-02-01", "date_to": "2024-01-01"}},
            "validation_error",
        ),
        ({"schedule": "every day"}, "validation_error"),
        ({"schedule": "0 0 * * * *"}, "validation_error"),
        (
            {
                "config": {
                    "rules": [{"kind": "amount", "name": "a"}, {"kind": "date_window", "name": "a"}]
                }
            },
            "validation_error",
        ),
        ({"config": {"auto_accept": 0.5, "review": 0.8}}, "validation_error"),
    ]
    for change, code in cases:
        answer = rc.post("/v1/reconciliation/jobs", json={**base, **change}, headers=headers)
        assert answer.status_code == 422, (change, answer.text)
        assert answer.json()["error"] == code, (change, answer.json())
    assert get(rc, headers, "/v1/reconciliation/jobs")["data"] == []
    viewer = rc.post("/v1/reconciliation/jobs", json=base, headers=auth(tenant, "viewer"))
    assert viewer.status_code == 403


def test_a_jobs_schedule_is_a_dbos_schedule(
    rc: TestClient, rc_svc: Services, auth: Any, tenant: str
) -> None:
    headers = auth(tenant, "developer")
    job = make_job(rc, headers, schedule="*/15 * * * *")
    name = schedule_name(int(job["id"]))
    made = rc_svc.dbos_client().get_schedule(name)
    assert made is not None
    assert made["schedule"] == "0 */15 * * * *"
    assert made["workflow_name"] == SCHEDULED_WORKFLOW
    assert made["context"] == {"job_id": int(job["id"]), "schedule": "*/15 * * * *"}

    changed = rc.patch(
        f"/v1/reconciliation/jobs/{job['id']}", json={"schedule": "0 6 * * 1"}, headers=headers
    )
    assert changed.status_code == 200 and changed.json()["schedule"] == "0 6 * * 1"
    assert rc_svc.dbos_client().get_schedule(name)["schedule"] == "0 0 6 * * 1"  # type: ignore[index]
    cleared = rc.patch(
        f"/v1/reconciliation/jobs/{job['id']}", json={"schedule": None}, headers=headers
    )
    assert cleared.json()["schedule"] is None
    assert rc_svc.dbos_client().get_schedule(name) is None

    rescheduled = rc.patch(
        f"/v1/reconciliation/jobs/{job['id']}", json={"schedule": "0 * * * *"}, headers=headers
    )
    assert rescheduled.status_code == 200
    assert rc.delete(f"/v1/reconciliation/jobs/{job['id']}", headers=headers).status_code == 204
    assert rc_svc.dbos_client().get_schedule(name) is None
    assert rc.get(f"/v1/reconciliation/jobs/{job['id']}", headers=headers).status_code == 404


@pytest.mark.sandbox(seed=5, size=30, settings={"rate_limits": False})
def test_payments_reconcile_against_the_invoices_they_pay_in_a_synced_connection(
    sandbox_url: str,
    sandbox: httpx.Client,
    database_url: str,
    tmp_path: Path,
    auth: Any,
    tenant: str,
) -> None:
    settings = make_settings(database_url, tmp_path / "data", sandbox_url=sandbox_url)
    runtime.migrate(settings)
    svc = Services.build(settings)
    headers = auth(tenant)
    with TestClient(create_app(svc=svc), raise_server_exceptions=False) as client:
        account = accounts(sandbox, "xero")[0]["account_id"]
        [connection] = connect(client, headers, "xero", [account])
        sync_now(svc, int(connection["id"]))
        source = {"type": "records", "connection_id": connection["id"]}
        answer = client.post(
            "/v1/reconciliation/jobs",
            json={
                "name": "payments vs invoices",
                "left": {**source, "kinds": ["payments"]},
                "right": {**source, "kinds": ["invoices", "bills"], "statuses": ["open", "paid"]},
            },
            headers=headers,
        )
        assert answer.status_code == 201, answer.text
        run_id = start(client, headers, answer.json()["id"])
        runs.execute(svc, int(run_id))
        run = get(client, headers, f"/v1/reconciliation/runs/{run_id}")
        assert run["status"] == "succeeded", run["error"]
        auto = {
            (m["left"][0]["item_id"], m["right"][0]["item_id"])
            for m in all_matches(client, headers, run_id)
            if m["status"] == "auto_matched" and len(m["left"]) == len(m["right"]) == 1
        }
        paid_in_full, allocated = books(svc, int(connection["id"]))
        assert paid_in_full, "the sandbox should hold invoices paid in one payment"
        assert paid_in_full <= auto  # each invoice paid in one payment is found,
        assert all(pair in allocated for pair in auto)  # and no match contradicts the books
    svc.db.dispose()


def books(svc: Services, connection_id: int) -> tuple[set[Pair], set[Pair]]:
    """What the books say, as (payment item id, invoice item id) pairs: the payments that
    paid an invoice's whole total by themselves, and every allocation."""
    with svc.db.system() as session:
        rows = session.scalars(select(Record).where(Record.connection_id == connection_id)).all()
        invoices = {r.remote_id: r for r in rows if r.model == "invoice"}
        allocated, paid_in_full = set(), set()
        for row in rows:
            if row.model != "payment":
                continue
            for allocation in json.loads(row.data)["allocations"]:
                invoice = invoices[allocation["invoice_remote_id"]]
                pair = (f"record:{row.id}", f"record:{invoice.id}")
                allocated.add(pair)
                if Decimal(allocation["amount"]) == Decimal(json.loads(invoice.data)["total"]):
                    paid_in_full.add(pair)
        return paid_in_full, allocated


Pair = tuple[str, str]


def sync_now(svc: Services, connection_id: int) -> None:
    with svc.db.system() as session:
        connection = session.get(Connection, connection_id)
        assert connection is not None
        run, _ = sync_service.request_sync(
            session, connection, wanted=None, full_resync=False, trigger="api", requested_by="t"
        )
        run_id = run.id
    plan = engine.start_run(svc, run_id)
    for object_type in plan.object_types:
        assert engine.pull_object_type(svc, plan, object_type) is None
    engine.finish_run(svc, run_id, {})


def test_patching_a_job_with_null_sides_leaves_them_as_they_are(
    rc: TestClient, auth, tenant: str
) -> None:
    headers = auth(tenant, "developer")
    job = make_job(rc, headers)
    answer = rc.patch(
        f"/v1/reconciliation/jobs/{job['id']}",
        json={"left": None, "right": None, "config": None},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    assert (answer.json()["left"], answer.json()["right"]) == (job["left"], job["right"])
