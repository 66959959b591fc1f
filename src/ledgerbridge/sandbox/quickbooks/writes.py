"""Create, update, delete and void, with QuickBooks' rules.

Every write bumps ``SyncToken`` and ``MetaData.LastUpdatedTime``. Name lists (Customer,
Vendor, Item, Account) are never deleted, only deactivated (QuickBooks then appends
" (deleted)" to the name); transactions are hard-deleted, leaving a ``Deleted`` stub that
only change data capture shows. Amounts that QuickBooks derives (totals, tax, balances,
unapplied amounts) are derived here too, whatever the client sent.

Callers hold ``state.store.lock``. Errors are :class:`QboFault`.
"""

from __future__ import annotations

from decimal import Decimal

from ledgerbridge.sandbox.quickbooks import errors
from ledgerbridge.sandbox.quickbooks.building import build_record
from ledgerbridge.sandbox.quickbooks.company import Company, name_key, records, save
from ledgerbridge.sandbox.quickbooks.entities import (
    NAME_LISTS,
    PEOPLE,
    VOIDABLE,
    Record,
    as_number,
    clean,
    is_deleted,
    money,
)
from ledgerbridge.sandbox.state import SandboxState

SYSTEM_FIELDS = ("Id", "SyncToken", "MetaData", "domain", "sparse", "status")


# --- the four operations ---------------------------------------------------------------


def create(
    state: SandboxState, company: Company, entity: str, body: Record, stamp: int | None = None
) -> Record:
    fields = _writable(body)
    record = build_record(state, company, entity, fields, None)
    record["Id"] = company.new_id(entity)
    if entity == "Payment":
        _check_applications(state, company, record, None)
    _commit(state, company, entity, record, None, stamp)
    if entity == "Payment":
        _apply_payment(state, company, record, +1)
    return record


def update(
    state: SandboxState,
    company: Company,
    entity: str,
    body: Record,
    *,
    check_sync_token: bool = True,
    stamp: int | None = None,
) -> Record:
    """A full update, or a sparse one when ``body["sparse"]`` is true."""
    previous = _existing(state, company, entity, body, check_sync_token)
    fields = _writable(body)
    if body.get("sparse") is True:
        fields = {**_writable(previous), **fields}
    record = build_record(state, company, entity, fields, previous)
    record["Id"] = previous["Id"]
    if entity == "Payment":
        _check_applications(state, company, record, previous)
        _apply_payment(state, company, previous, -1)
    _commit(state, company, entity, record, previous, stamp)
    if entity == "Payment":
        _apply_payment(state, company, record, +1)
    return record


def delete(
    state: SandboxState,
    company: Company,
    entity: str,
    body: Record,
    *,
    check_sync_token: bool = True,
    stamp: int | None = None,
) -> Record:
    """Hard-delete a transaction; what remains is the stub change data capture reports."""
    if entity in NAME_LISTS:
        raise errors.unsupported_operation("Delete")
    previous = _existing(state, company, entity, body, check_sync_token)
    _unlink(state, company, entity, previous)
    stamp = stamp if stamp is not None else state.clock.now_ms()
    stub = {
        "Id": previous["Id"],
        "status": "Deleted",
        "domain": "QBO",
        "MetaData": {"LastUpdatedTime": company.time(stamp)},
    }
    _adjust_party_balance(state, company, entity, previous, None)
    save(state, company, entity, stub, stamp)
    return stub


def void(
    state: SandboxState,
    company: Company,
    entity: str,
    body: Record,
    *,
    check_sync_token: bool = True,
    stamp: int | None = None,
) -> Record:
    """Void an invoice or payment: it stays, with every amount at zero."""
    if entity not in VOIDABLE:
        raise errors.unsupported_operation("Void")
    previous = _existing(state, company, entity, body, check_sync_token)
    _unlink(state, company, entity, previous)
    record = {k: v for k, v in previous.items() if k not in ("SyncToken", "MetaData")}
    record["PrivateNote"] = "Voided"
    record["TotalAmt"] = 0
    if entity == "Invoice":
        record["Line"] = [{**line, "Amount": 0} for line in previous.get("Line", [])]
        record["Balance"] = 0
        record.pop("LinkedTxn", None)
        if "TxnTaxDetail" in record:
            record["TxnTaxDetail"] = {"TotalTax": 0}
        for key in ("HomeTotalAmt", "HomeBalance"):
            if key in record:
                record[key] = 0
    else:
        record.pop("Line", None)
        record["UnappliedAmt"] = 0
    _commit(state, company, entity, record, previous, stamp)
    return record


def deactivate(
    state: SandboxState, company: Company, entity: str, record_id: str, stamp: int | None = None
) -> Record:
    """What deleting a customer, vendor, item or account does in QuickBooks."""
    body = {"Id": record_id, "sparse": True, "Active": False}
    return update(state, company, entity, body, check_sync_token=False, stamp=stamp)


# --- shared steps ----------------------------------------------------------------------


def _writable(body: Record) -> Record:
    fields: Record = clean({k: v for k, v in body.items() if k not in SYSTEM_FIELDS})
    return fields


def _existing(
    state: SandboxState, company: Company, entity: str, body: Record, check_sync_token: bool
) -> Record:
    record_id = str(body.get("Id", ""))
    if not record_id:
        raise errors.required_param("Id")
    found = records(state, company.realm_id, entity).get(record_id)
    if found is None or is_deleted(found):
        raise errors.object_not_found(entity, record_id)
    if check_sync_token:
        sent = body.get("SyncToken")
        if sent is None or sent == "":
            raise errors.required_param("SyncToken")
        if str(sent) != found["SyncToken"]:
            raise errors.stale_object(entity, record_id, found["SyncToken"])
    return found


def _commit(
    state: SandboxState,
    company: Company,
    entity: str,
    record: Record,
    previous: Record | None,
    stamp: int | None,
) -> None:
    """Stamp a record's system fields and store it."""
    stamp = stamp if stamp is not None else state.clock.now_ms()
    now = company.time(stamp)
    record["SyncToken"] = "0" if previous is None else str(int(previous["SyncToken"]) + 1)
    record["domain"] = "QBO"
    record["sparse"] = False
    created = now if previous is None else previous["MetaData"]["CreateTime"]
    record["MetaData"] = {"CreateTime": created, "LastUpdatedTime": now}
    if entity in NAME_LISTS:
        _claim_name(company, entity, record, previous)
    _adjust_party_balance(state, company, entity, previous, record)
    save(state, company, entity, record, stamp)


def _claim_name(company: Company, entity: str, record: Record, previous: Record | None) -> None:
    name_field = "DisplayName" if entity in PEOPLE else "Name"
    key = name_key(entity, record[name_field])
    holder = company.names.get(key)
    if holder is not None and holder != (entity, record["Id"]):
        raise errors.duplicate_name(record[name_field])
    if previous is not None:
        company.names.pop(name_key(entity, previous[name_field]), None)
    company.names[key] = (entity, record["Id"])


def _adjust_party_balance(
    state: SandboxState,
    company: Company,
    entity: str,
    previous: Record | None,
    record: Record | None,
) -> None:
    """Keep a customer's (vendor's) Balance the sum of its open invoices (bills).

    QuickBooks derives it without touching the customer's SyncToken or LastUpdatedTime.
    """
    party = {"Invoice": ("Customer", "CustomerRef"), "Bill": ("Vendor", "VendorRef")}.get(entity)
    if party is None:
        return
    party_entity, ref = party
    changes: dict[str, Decimal] = {}
    for version, sign in ((previous, -1), (record, +1)):
        if version is not None and not is_deleted(version):
            party_id = version[ref]["value"]
            changes[party_id] = changes.get(party_id, Decimal(0)) + sign * money(version["Balance"])
    collection = records(state, company.realm_id, party_entity)
    for party_id, delta in changes.items():
        found = collection.get(party_id)
        stamp = collection.stamp_of(party_id)
        if found is None or stamp is None or not delta:
            continue
        changed = {**found, "Balance": as_number(money(found.get("Balance", 0)) + delta)}
        if party_entity == "Customer":
            changed["BalanceWithJobs"] = changed["Balance"]
        save(state, company, party_entity, changed, stamp)


# --- payments against invoices -----------------------------------------------------------


def _applications(payment: Record) -> dict[str, Decimal]:
    """Invoice Id -> amount this payment applies to it."""
    applied: dict[str, Decimal] = {}
    for line in payment.get("Line", []):
        for link in line.get("LinkedTxn", []):
            if link.get("TxnType") == "Invoice":
                applied[link["TxnId"]] = applied.get(link["TxnId"], Decimal(0)) + money(
                    line["Amount"]
                )
    return applied


def _check_applications(
    state: SandboxState, company: Company, payment: Record, previous: Record | None
) -> None:
    invoices = records(state, company.realm_id, "Invoice")
    already = _applications(previous) if previous is not None else {}
    for invoice_id, amount in _applications(payment).items():
        invoice = invoices.get(invoice_id)
        if invoice is None or is_deleted(invoice):
            raise errors.invalid_reference("LinkedTxn", invoice_id)
        if invoice["CustomerRef"]["value"] != payment["CustomerRef"]["value"]:
            raise errors.business_validation(
                f"Invoice {invoice_id} belongs to another customer than the payment."
            )
        open_balance = money(invoice["Balance"]) + already.get(invoice_id, Decimal(0))
        if amount > open_balance:
            raise errors.business_validation(
                f"The payment applies {amount} to invoice {invoice_id}, "
                f"whose open balance is {open_balance}."
            )


def _apply_payment(state: SandboxState, company: Company, payment: Record, sign: int) -> None:
    """Apply (+1) or take back (-1) a payment's amounts on the invoices it links to."""
    invoices = records(state, company.realm_id, "Invoice")
    for invoice_id, amount in _applications(payment).items():
        invoice = invoices.get(invoice_id)
        if invoice is None or is_deleted(invoice):
            continue
        changed = {k: v for k, v in invoice.items() if k not in ("SyncToken", "MetaData")}
        balance = money(invoice["Balance"]) - sign * amount
        changed["Balance"] = as_number(balance)
        if "HomeBalance" in invoice:
            rate = Decimal(str(invoice.get("ExchangeRate", 1)))
            changed["HomeBalance"] = as_number(money(balance * rate))
        links = [
            link for link in invoice.get("LinkedTxn", []) if link.get("TxnId") != payment["Id"]
        ]
        if sign > 0:
            links.append({"TxnId": payment["Id"], "TxnType": "Payment"})
        if links:
            changed["LinkedTxn"] = links
        else:
            changed.pop("LinkedTxn", None)
        _commit(state, company, "Invoice", changed, invoice, None)


def _unlink(state: SandboxState, company: Company, entity: str, record: Record) -> None:
    """Before an invoice or payment goes away, undo what links it to the other side."""
    if entity == "Payment":
        _apply_payment(state, company, record, -1)
        return
    if entity != "Invoice":
        return
    payments = records(state, company.realm_id, "Payment")
    for link in record.get("LinkedTxn", []):
        payment = payments.get(link.get("TxnId", "")) if link.get("TxnType") == "Payment" else None
        if payment is None or is_deleted(payment):
            continue
        kept, freed = [], Decimal(0)
        for line in payment.get("Line", []):
            if any(t.get("TxnId") == record["Id"] for t in line.get("LinkedTxn", [])):
                freed += money(line["Amount"])
            else:
                kept.append(line)
        changed = {k: v for k, v in payment.items() if k not in ("SyncToken", "MetaData")}
        changed["Line"] = kept
        changed["UnappliedAmt"] = as_number(money(payment.get("UnappliedAmt", 0)) + freed)
        _commit(state, company, "Payment", changed, payment, None)
