"""Xero's official Python SDK (xero-python), pointed at the sandbox, works unchanged."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from xero_python.accounting import AccountingApi, Contact, Contacts, Invoice, Invoices, LineItem
from xero_python.api_client import ApiClient, Configuration
from xero_python.api_client.oauth2 import OAuth2Token
from xero_python.identity import IdentityApi

from .helpers import CLIENT_ID, CLIENT_SECRET


@pytest.fixture
def api_client(connect: Callable[..., dict[str, Any]]) -> ApiClient:
    tokens = connect("xero")
    client = ApiClient(
        Configuration(oauth2_token=OAuth2Token(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)),
        pool_threads=1,
    )
    saved: dict[str, dict[str, Any]] = {}
    client.oauth2_token_getter(lambda: saved["token"])
    client.oauth2_token_saver(lambda token: saved.update(token=token))
    client.set_oauth2_token(
        {
            "access_token": tokens["access_token"],
            "refresh_token": tokens["refresh_token"],
            "id_token": tokens["id_token"],
            "token_type": tokens["token_type"],
            "expires_in": tokens["expires_in"],
            "scope": tokens["scope"].split(),
        }
    )
    return client


@pytest.mark.sandbox(size=150)
def test_xero_python_lists_and_creates_contacts_and_invoices(
    api_client: ApiClient, sandbox_url: str
) -> None:
    connections = IdentityApi(api_client, base_url=f"{sandbox_url}/xero").get_connections()
    assert len(connections) >= 2
    tenant = str(connections[0].tenant_id)
    xero = AccountingApi(api_client, base_url=f"{sandbox_url}/xero/api.xro/2.0")

    organisation = xero.get_organisations(tenant).organisations[0]
    assert organisation.name == connections[0].tenant_name
    contacts = xero.get_contacts(tenant, page=1, include_archived=True).contacts
    assert len(contacts) == 100
    invoices = [
        invoice
        for page in (1, 2)
        for invoice in xero.get_invoices(
            tenant, page=page, statuses=["AUTHORISED", "PAID"]
        ).invoices
    ]
    assert invoices and {str(i.status).split(".")[-1] for i in invoices} <= {"AUTHORISED", "PAID"}
    assert xero.get_items(tenant).items
    assert xero.get_accounts(tenant).accounts
    assert xero.get_payments(tenant, page=1).payments
    assert xero.get_bank_transactions(tenant, page=1).bank_transactions is not None
    assert xero.get_credit_notes(tenant, page=1).credit_notes is not None
    assert xero.get_purchase_orders(tenant, page=1).purchase_orders is not None

    created = xero.create_contacts(tenant, Contacts(contacts=[Contact(name="SDK Søndergaard Ltd")]))
    contact = created.contacts[0]
    assert contact.contact_id and contact.name == "SDK Søndergaard Ltd"

    line = LineItem(description="Consulting", quantity=2.0, unit_amount=150.0, account_code="200")
    invoice = Invoice(
        type="ACCREC",
        contact=Contact(contact_id=contact.contact_id),
        line_items=[line],
        date=date(2025, 5, 1),
        due_date=date(2025, 5, 31),
        status="AUTHORISED",
        reference="SDK test",
    )
    made = xero.create_invoices(tenant, Invoices(invoices=[invoice]), idempotency_key="sdk-1")
    made_invoice = made.invoices[0]
    assert made_invoice.total == 345.0  # 300 + 15% tax
    assert made_invoice.date == date(2025, 5, 1)

    fetched = xero.get_invoice(tenant, made_invoice.invoice_id).invoices[0]
    assert fetched.contact.contact_id == contact.contact_id
    since = datetime.now(UTC) - timedelta(minutes=5)
    recent = xero.get_invoices(tenant, if_modified_since=since, page=1).invoices
    assert made_invoice.invoice_id in {i.invoice_id for i in recent}
