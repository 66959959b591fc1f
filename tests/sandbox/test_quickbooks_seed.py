"""The seeded QuickBooks companies: deterministic, and as varied as real books."""

from __future__ import annotations

import random
from typing import Any

from ledgerbridge.sandbox.quickbooks import seed
from ledgerbridge.sandbox.quickbooks.company import find_company, shelf
from ledgerbridge.sandbox.state import SandboxState, new_state

REALMS = ("9341453000000001", "9341453000000002")


def seeded(seed_value: int, size: int) -> SandboxState:
    state = new_state(seed=seed_value, size=size)
    seed(state, random.Random(seed_value), size)
    return state


def without_times(record: dict[str, Any]) -> dict[str, Any]:
    dated = ("MetaData", "TxnDate", "DueDate")
    return {k: v for k, v in record.items() if k not in dated}


def test_same_seed_same_books() -> None:
    first, second, other = seeded(4, 50), seeded(4, 50), seeded(5, 50)
    for entity in ("Customer", "Invoice", "Payment"):
        a = [without_times(r) for r in shelf(first, REALMS[0], entity).records.all()]
        b = [without_times(r) for r in shelf(second, REALMS[0], entity).records.all()]
        c = [without_times(r) for r in shelf(other, REALMS[0], entity).records.all()]
        assert a == b
        assert a != c


def test_books_are_varied_like_real_ones() -> None:
    state = seeded(8, 400)
    homes = {find_company(state, realm).realm.currency for realm in REALMS}  # type: ignore[union-attr]
    assert homes == {"USD", "AUD"}
    for realm in REALMS:
        customers = shelf(state, realm, "Customer").records.all()
        invoices = shelf(state, realm, "Invoice").records.all()
        payments = shelf(state, realm, "Payment").records.all()
        deleted = shelf(state, realm, "Invoice").deleted
        assert deleted is not None and len(deleted) > 0
        assert all(stub["status"] == "Deleted" for stub in deleted.all())
        assert len({c["CurrencyRef"]["value"] for c in customers}) >= 3
        assert any(not c["Active"] and c["DisplayName"].endswith(" (deleted)") for c in customers)
        assert any(not c["DisplayName"].isascii() for c in customers)
        assert any(len(i["Line"]) > 3 for i in invoices)
        assert any(i["TxnTaxDetail"]["TotalTax"] > 0 for i in invoices)
        assert any(0 < i["Balance"] < i["TotalAmt"] for i in invoices)  # partly paid
        assert any(i.get("PrivateNote") == "Voided" for i in invoices)
        assert any(p["UnappliedAmt"] > 0 for p in payments)
        names = [c["DisplayName"].casefold() for c in customers]
        assert len(names) == len(set(names))
        # Every payment line points at an invoice of the same customer that links back.
        by_id = {i["Id"]: i for i in invoices}
        for payment in payments:
            for line in payment.get("Line", []):
                invoice = by_id[line["LinkedTxn"][0]["TxnId"]]
                assert invoice["CustomerRef"] == payment["CustomerRef"]
                assert {"TxnId": payment["Id"], "TxnType": "Payment"} in invoice["LinkedTxn"]
