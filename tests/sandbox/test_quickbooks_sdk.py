"""Intuit's own clients against the emulator: ``intuit-oauth`` runs the OAuth code flow
(from the sandbox's discovery document), ``python-quickbooks`` lists and creates."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from ledgerbridge.sandbox.consent import approve_consent

from .helpers import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, redirect_params

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from intuitlib.client import AuthClient
    from intuitlib.enums import Scopes
    from quickbooks import QuickBooks
    from quickbooks.cdc import change_data_capture
    from quickbooks.exceptions import QuickbooksException
    from quickbooks.objects.base import LinkedTxn
    from quickbooks.objects.customer import Customer
    from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
    from quickbooks.objects.invoice import Invoice
    from quickbooks.objects.item import Item
    from quickbooks.objects.payment import Payment, PaymentLine

REALM = "9341453000000002"

pytestmark = pytest.mark.sandbox(seed=11, size=40, settings={"rate_limits": False})


@pytest.fixture
def qb(sandbox_url: str, monkeypatch: pytest.MonkeyPatch) -> QuickBooks:
    # requests-oauthlib refuses plain http unless told this is a local test server.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    urls = httpx.get(f"{sandbox_url}/_sandbox/providers").json()["quickbooks"]
    auth = AuthClient(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, environment=urls["discovery_url"])
    location = approve_consent(auth.get_authorization_url([Scopes.ACCOUNTING]), [REALM])
    params = redirect_params(location)
    auth.get_bearer_token(params["code"], realm_id=params["realmId"])
    assert auth.access_token and auth.refresh_token
    client = QuickBooks(
        auth_client=auth, refresh_token=auth.refresh_token, company_id=REALM, minorversion=75
    )
    client.api_url_v3 = urls["api_base_url"]  # production URL otherwise
    return client


def test_sdk_lists_and_creates_customers_and_invoices(qb: QuickBooks) -> None:
    customers = Customer.all(qb=qb, max_results=1000)
    assert len(customers) == Customer.count(qb=qb) > 0
    assert all(c.Active for c in customers)

    customer = Customer()
    customer.DisplayName = "Tāne Mahuta Café"
    customer.GivenName = "Tāne"
    saved = customer.save(qb=qb)
    assert saved.Id and saved.SyncToken == "0"
    assert Customer.get(saved.Id, qb=qb).DisplayName == "Tāne Mahuta Café"
    assert [c.Id for c in Customer.filter(DisplayName="Tāne Mahuta Café", qb=qb)] == [saved.Id]

    saved.Notes = "Delivers on Tuesdays"
    updated = saved.save(qb=qb)
    assert updated.SyncToken == "1"
    with pytest.raises(QuickbooksException) as stale:
        saved.save(qb=qb)  # still SyncToken 0
    assert stale.value.error_code == 5010

    item = Item.all(qb=qb, max_results=5)[0]
    line = SalesItemLine()
    line.Amount = 120
    line.SalesItemLineDetail = SalesItemLineDetail()
    line.SalesItemLineDetail.ItemRef = item.to_ref()
    line.SalesItemLineDetail.Qty = 3
    line.SalesItemLineDetail.UnitPrice = 40
    invoice = Invoice()
    invoice.CustomerRef = updated.to_ref()
    invoice.Line.append(line)
    created = invoice.save(qb=qb)
    assert float(created.TotalAmt) == 120 and float(created.Balance) == 120
    assert created.CurrencyRef.value == "AUD"

    invoices = Invoice.where(f"CustomerRef = '{updated.Id}'", qb=qb)
    assert [i.Id for i in invoices] == [created.Id]
    assert Invoice.count(qb=qb) == len(Invoice.all(qb=qb, max_results=1000))

    payment = Payment()
    payment.CustomerRef = updated.to_ref()
    payment.TotalAmt = 50
    applied = PaymentLine()
    applied.Amount = 50
    link = LinkedTxn()
    link.TxnId = created.Id
    link.TxnType = "Invoice"
    applied.LinkedTxn.append(link)
    payment.Line.append(applied)
    payment.save(qb=qb)
    assert float(Invoice.get(created.Id, qb=qb).Balance) == 70


def test_sdk_change_data_capture(qb: QuickBooks) -> None:
    since = datetime.now(UTC) - timedelta(days=20)
    invoice = Invoice.all(qb=qb, max_results=1)[0]
    invoice.delete(qb=qb)
    changes = change_data_capture([Invoice, Customer], since, qb=qb)
    ids = {i.Id for i in changes.Invoice}
    assert invoice.Id in ids
    deleted = [i for i in changes.Invoice if getattr(i, "status", "") == "Deleted"]
    assert invoice.Id in {i.Id for i in deleted}
