"""Create, update, delete and void, with QuickBooks' rules.

Every write bumps ``SyncToken`` and ``MetaData.LastUpdatedTime``. Name lists (Customer,
Vendor, Item, Account) are never deleted, only deactivated (QuickBooks then appends
" (deleted)" to the name); transactions are hard-deleted, leaving a ``Deleted`` stub that
only change data capture shows. Amounts that QuickBooks derives (totals, tax, balances,
unapplied amounts) are derived here too, whatever the client sent.

Callers hold ``state.store.lock``. Errors are :class:`QboFault`.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ledgerbridge.sandbox.quickbooks import errors
from ledgerbridge.sandbox.quickbooks.company import Company, name_key, records, save
from ledgerbridge.sandbox.quickbooks.dates import format_date
from ledgerbridge.sandbox.quickbooks.entities import (
    NAME_LISTS,
    PEOPLE,
    VOIDABLE,
    Record,
    as_number,
    clean,
    currency_ref,
    exchange_rate,
    is_deleted,
    money,
    total,
)
from ledgerbridge.sandbox.state import SandboxState

DELETED_SUFFIX = " (deleted)"
SYSTEM_FIELDS = ("Id", "SyncToken", "MetaData", "domain", "sparse", "status")

ACCOUNT_CLASSIFICATION = {
    "Bank": "Asset",
    "Accounts Receivable": "Asset",
    "Other Current Asset": "Asset",
    "Fixed Asset": "Asset",
    "Other Asset": "Asset",
    "Accounts Payable": "Liability",
    "Credit Card": "Liability",
    "Other Current Liability": "Liability",
    "Long Term Liability": "Liability",
    "Equity": "Equity",
    "Income": "Revenue",
    "Other Income": "Revenue",
    "Cost of Goods Sold": "Expense",
    "Expense": "Expense",
    "Other Expense": "Expense",
}


# --- the four operations ---------------------------------------------------------------


def create(
    state: SandboxState, company: Company, entity: str, body: Record, stamp: int | None = None
) -> Record:
    fields = _writable(body)
    record = _build(state, company, entity, fields, None)
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
    record = _build(state, company, entity, fields, previous)
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


# --- building records from a client's fields --------------------------------------------


def _build(
    state: SandboxState, company: Company, entity: str, fields: Record, previous: Record | None
) -> Record:
    if entity in PEOPLE:
        return _build_person(company, entity, fields, previous)
    if entity == "Item":
        return _build_item(state, company, fields)
    if entity == "Account":
        return _build_account(company, fields, previous)
    if entity == "Payment":
        return _build_payment(state, company, fields)
    return _build_purchase_or_sale(state, company, entity, fields, previous)


def _active_name(name: str, active: bool) -> str:
    base = name.removesuffix(DELETED_SUFFIX)
    return base if active else base + DELETED_SUFFIX


def _build_person(company: Company, entity: str, fields: Record, previous: Record | None) -> Record:
    record = dict(fields)
    given = " ".join(
        str(fields[k]) for k in ("GivenName", "MiddleName", "FamilyName") if k in fields
    )
    name = fields.get("DisplayName") or given or fields.get("CompanyName")
    if not name:
        raise errors.required_param("DisplayName")
    active = bool(fields.get("Active", True))
    record["Active"] = active
    record["DisplayName"] = _active_name(str(name), active)
    record["FullyQualifiedName"] = record["DisplayName"]
    record.setdefault("PrintOnCheckName", record["DisplayName"].removesuffix(DELETED_SUFFIX))
    record["CurrencyRef"] = currency_ref(_currency_code(fields, company.realm.currency))
    opening = money(fields.get("Balance", 0)) if previous is None else money(previous["Balance"])
    record["Balance"] = as_number(opening)
    if entity == "Customer":
        record["BalanceWithJobs"] = record["Balance"]
        record.setdefault("Taxable", False)
        record.setdefault("Job", False)
        record.setdefault("BillWithParent", False)
        record.setdefault("PreferredDeliveryMethod", "Print")
    return record


def _build_item(state: SandboxState, company: Company, fields: Record) -> Record:
    record = dict(fields)
    if not fields.get("Name"):
        raise errors.required_param("Name")
    active = bool(fields.get("Active", True))
    record["Active"] = active
    record["Name"] = _active_name(str(fields["Name"]), active)
    record["FullyQualifiedName"] = record["Name"]
    record.setdefault("Type", "Service")
    record.setdefault("Taxable", False)
    record["UnitPrice"] = as_number(money(fields.get("UnitPrice", 0)))
    for key, default in (("IncomeAccountRef", "income"), ("ExpenseAccountRef", "expense")):
        ref = fields.get(key) or {"value": company_default(company, default)}
        record[key] = _named_ref(state, company, "Account", ref, key)
    return record


def _build_account(company: Company, fields: Record, previous: Record | None) -> Record:
    record = dict(fields)
    if not fields.get("Name"):
        raise errors.required_param("Name")
    account_type = fields.get("AccountType")
    if account_type not in ACCOUNT_CLASSIFICATION:
        if account_type:
            raise errors.invalid_request(
                f"Invalid Enumeration : {account_type}", element="AccountType"
            )
        raise errors.required_param("AccountType")
    active = bool(fields.get("Active", True))
    record["Active"] = active
    record["Name"] = _active_name(str(fields["Name"]), active)
    record["FullyQualifiedName"] = record["Name"]
    record["SubAccount"] = bool(fields.get("SubAccount", False))
    record["Classification"] = ACCOUNT_CLASSIFICATION[account_type]
    balance = money((previous or fields).get("CurrentBalance", 0))
    record["CurrentBalance"] = as_number(balance)
    record["CurrentBalanceWithSubAccounts"] = as_number(balance)
    record["CurrencyRef"] = currency_ref(_currency_code(fields, company.realm.currency))
    return record


def _build_purchase_or_sale(
    state: SandboxState, company: Company, entity: str, fields: Record, previous: Record | None
) -> Record:
    """Invoice, Bill and PurchaseOrder: a party, lines, a total and (mostly) a balance."""
    sale = entity == "Invoice"
    party_entity, party_key = ("Customer", "CustomerRef") if sale else ("Vendor", "VendorRef")
    if not fields.get(party_key):
        raise errors.required_param(party_key)
    if not fields.get("Line"):
        raise errors.required_param("Line")
    record = dict(fields)
    party = _lookup(state, company, party_entity, fields[party_key], party_key)
    record[party_key] = {"value": party["Id"], "name": party["DisplayName"]}
    currency = _currency_code(fields, party["CurrencyRef"]["value"])
    record["CurrencyRef"] = currency_ref(currency)
    rate = exchange_rate(currency, company.realm.currency)
    record["ExchangeRate"] = as_number(rate)

    if sale:
        lines, subtotal, taxable = _sales_lines(state, company, fields["Line"])
        tax = _tax(company, fields, taxable)
        amount = subtotal + tax
        record["TxnTaxDetail"] = _tax_detail(company, tax, taxable)
    else:
        lines, amount = _expense_lines(state, company, fields["Line"])
    record["Line"] = lines
    record["TotalAmt"] = as_number(amount)

    txn_date = _txn_date(state, company, fields)
    record["TxnDate"] = txn_date
    if "DocNumber" not in fields and entity != "Bill":
        record["DocNumber"] = (previous or {}).get("DocNumber") or company.new_doc_number(entity)
    if entity == "PurchaseOrder":
        record.setdefault("POStatus", "Open")
        record.setdefault("EmailStatus", "NotSet")
        record.setdefault("PrintStatus", "NotSet")
    else:
        record.setdefault("DueDate", (date.fromisoformat(txn_date) + timedelta(30)).isoformat())
        paid = Decimal(0)
        if previous is not None:
            paid = money(previous["TotalAmt"]) - money(previous["Balance"])
        if paid > amount:
            raise errors.business_validation(
                f"The total of {entity} {previous and previous['Id']} cannot be less than the "
                f"{paid} already paid."
            )
        record["Balance"] = as_number(amount - paid)
        if previous is not None and previous.get("LinkedTxn"):
            record["LinkedTxn"] = previous["LinkedTxn"]
        else:
            record.pop("LinkedTxn", None)
        if currency != company.realm.currency:
            record["HomeBalance"] = as_number(money((amount - paid) * rate))
    if currency != company.realm.currency:
        record["HomeTotalAmt"] = as_number(money(amount * rate))
    if sale:
        record.setdefault("EmailStatus", "NotSet")
        record.setdefault("PrintStatus", "NotSet")
        record.setdefault("ApplyTaxAfterDiscount", False)
    if not sale:
        account = fields.get("APAccountRef") or {"value": company_default(company, "ap")}
        record["APAccountRef"] = _named_ref(state, company, "Account", account, "APAccountRef")
    return record


def _build_payment(state: SandboxState, company: Company, fields: Record) -> Record:
    if not fields.get("CustomerRef"):
        raise errors.required_param("CustomerRef")
    if "TotalAmt" not in fields:
        raise errors.required_param("TotalAmt")
    record = dict(fields)
    customer = _lookup(state, company, "Customer", fields["CustomerRef"], "CustomerRef")
    record["CustomerRef"] = {"value": customer["Id"], "name": customer["DisplayName"]}
    currency = _currency_code(fields, customer["CurrencyRef"]["value"])
    record["CurrencyRef"] = currency_ref(currency)
    record["ExchangeRate"] = as_number(exchange_rate(currency, company.realm.currency))
    amount = _amount(fields["TotalAmt"], "TotalAmt")
    lines = []
    for line in fields.get("Line", []):
        links = [
            {"TxnId": str(link.get("TxnId", "")), "TxnType": link.get("TxnType", "Invoice")}
            for link in line.get("LinkedTxn", [])
        ]
        if len(links) != 1 or links[0]["TxnType"] != "Invoice" or not links[0]["TxnId"]:
            raise errors.invalid_request(
                "A payment line must link to exactly one invoice (LinkedTxn).", "Line.LinkedTxn"
            )
        line_amount = _amount(line.get("Amount"), "Line.Amount")
        lines.append({"Amount": as_number(line_amount), "LinkedTxn": links})
    applied = total(money(line["Amount"]) for line in lines)
    if applied > amount:
        raise errors.business_validation(
            f"The payment lines add up to {applied}, more than the payment amount {amount}."
        )
    record["Line"] = lines
    record["TotalAmt"] = as_number(amount)
    record["UnappliedAmt"] = as_number(amount - applied)
    record["TxnDate"] = _txn_date(state, company, fields)
    account = fields.get("DepositToAccountRef") or {
        "value": company_default(company, "undeposited")
    }
    record["DepositToAccountRef"] = _named_ref(
        state, company, "Account", account, "DepositToAccountRef"
    )
    record.setdefault("ProcessPayment", False)
    return record


def _sales_lines(
    state: SandboxState, company: Company, sent: list[Any]
) -> tuple[list[Record], Decimal, Decimal]:
    """Numbered sales lines plus QuickBooks' subtotal line; (lines, subtotal, taxable)."""
    lines: list[Record] = []
    subtotal = taxable = Decimal(0)
    for line in sent:
        kind = _detail_type(line)
        if kind == "SubTotalLineDetail":
            continue  # QuickBooks computes its own
        number = len(lines) + 1
        if kind == "SalesItemLineDetail":
            detail = dict(line["SalesItemLineDetail"])
            if "ItemRef" not in detail:
                raise errors.required_param("Line.SalesItemLineDetail.ItemRef")
            detail["ItemRef"] = _named_ref(state, company, "Item", detail["ItemRef"], "ItemRef")
            amount = _line_amount(line, detail)
            detail.setdefault("TaxCodeRef", {"value": "NON"})
            if detail["TaxCodeRef"].get("value") == "TAX":
                taxable += amount
            subtotal += amount
        elif kind == "DiscountLineDetail":
            detail = dict(line["DiscountLineDetail"])
            amount = _amount(line.get("Amount"), "Line.Amount")
            subtotal -= amount
        elif kind == "DescriptionOnly":
            detail = dict(line.get("DescriptionLineDetail", {}))
            amount = Decimal(0)
        else:
            raise errors.invalid_request(f"Unsupported line DetailType {kind}", "Line.DetailType")
        normalized = {**line, "Id": str(number), "LineNum": number, "Amount": as_number(amount)}
        normalized["DetailType"] = kind
        if detail:
            normalized[kind if kind != "DescriptionOnly" else "DescriptionLineDetail"] = detail
        lines.append(normalized)
    lines.append(
        {
            "Amount": as_number(subtotal),
            "DetailType": "SubTotalLineDetail",
            "SubTotalLineDetail": {},
        }
    )
    return lines, subtotal, taxable


def _expense_lines(
    state: SandboxState, company: Company, sent: list[Any]
) -> tuple[list[Record], Decimal]:
    lines: list[Record] = []
    amount_total = Decimal(0)
    for line in sent:
        kind = _detail_type(line)
        detail = dict(line.get(kind, {}))
        if kind == "AccountBasedExpenseLineDetail":
            if "AccountRef" not in detail:
                raise errors.required_param("Line.AccountBasedExpenseLineDetail.AccountRef")
            detail["AccountRef"] = _named_ref(
                state, company, "Account", detail["AccountRef"], "AccountRef"
            )
            amount = _amount(line.get("Amount"), "Line.Amount")
        elif kind == "ItemBasedExpenseLineDetail":
            if "ItemRef" not in detail:
                raise errors.required_param("Line.ItemBasedExpenseLineDetail.ItemRef")
            detail["ItemRef"] = _named_ref(state, company, "Item", detail["ItemRef"], "ItemRef")
            amount = _line_amount(line, detail)
        else:
            raise errors.invalid_request(f"Unsupported line DetailType {kind}", "Line.DetailType")
        detail.setdefault("BillableStatus", "NotBillable")
        number = len(lines) + 1
        lines.append(
            {
                **line,
                "Id": str(number),
                "LineNum": number,
                "Amount": as_number(amount),
                "DetailType": kind,
                kind: detail,
            }
        )
        amount_total += amount
    return lines, amount_total


def _detail_type(line: Any) -> str:
    if not isinstance(line, dict):
        raise errors.invalid_request("Each Line must be an object.", "Line")
    kind = line.get("DetailType")
    if kind:
        return str(kind)
    for key in line:
        if key.endswith("LineDetail"):
            return "DescriptionOnly" if key == "DescriptionLineDetail" else key
    raise errors.required_param("Line.DetailType")


def _line_amount(line: Record, detail: Record) -> Decimal:
    if "Amount" in line:
        return _amount(line["Amount"], "Line.Amount")
    if "Qty" in detail and "UnitPrice" in detail:
        return money(Decimal(str(detail["Qty"])) * Decimal(str(detail["UnitPrice"])))
    raise errors.required_param("Line.Amount")


def _amount(value: Any, element: str) -> Decimal:
    if value is None:
        raise errors.required_param(element)
    try:
        return money(value)
    except ValueError as exc:
        raise errors.invalid_request(f"Invalid amount {value!r}", element) from exc


def _tax(company: Company, fields: Record, taxable: Decimal) -> Decimal:
    sent = fields.get("TxnTaxDetail", {}).get("TotalTax")
    if sent is not None:
        return _amount(sent, "TxnTaxDetail.TotalTax")
    return money(taxable * company.realm.tax_rate)


def _tax_detail(company: Company, tax: Decimal, taxable: Decimal) -> Record:
    if not tax:
        return {"TotalTax": 0}
    return {
        "TxnTaxCodeRef": {"value": "2"},
        "TotalTax": as_number(tax),
        "TaxLine": [
            {
                "Amount": as_number(tax),
                "DetailType": "TaxLineDetail",
                "TaxLineDetail": {
                    "TaxRateRef": {"value": "3"},
                    "PercentBased": True,
                    "TaxPercent": as_number(company.realm.tax_rate * 100),
                    "NetAmountTaxable": as_number(taxable),
                },
            }
        ],
    }


def _txn_date(state: SandboxState, company: Company, fields: Record) -> str:
    sent = fields.get("TxnDate")
    if sent is None:
        return format_date(state.clock.time_ms(), company.realm.offset_minutes)
    try:
        return date.fromisoformat(str(sent)).isoformat()
    except ValueError as exc:
        raise errors.invalid_request(f"Invalid date {sent!r}", "TxnDate") from exc


def _currency_code(fields: Record, default: str) -> str:
    ref = fields.get("CurrencyRef")
    if isinstance(ref, dict) and ref.get("value"):
        return str(ref["value"])
    return default


def company_default(company: Company, role: str) -> str:
    """The Id of one of the accounts QuickBooks fills in by default (AR, AP, income ...)."""
    return company.default_accounts[role]


def _lookup(state: SandboxState, company: Company, entity: str, ref: Any, element: str) -> Record:
    record_id = str(ref.get("value", "")) if isinstance(ref, dict) else str(ref)
    found = records(state, company.realm_id, entity).get(record_id)
    if found is None or is_deleted(found) or found.get("Active") is False:
        raise errors.invalid_reference(element, record_id)
    return found


def _named_ref(
    state: SandboxState, company: Company, entity: str, ref: Any, element: str
) -> dict[str, str]:
    found = _lookup(state, company, entity, ref, element)
    name = found.get("DisplayName") or found.get("FullyQualifiedName") or found.get("Name")
    return {"value": found["Id"], "name": str(name)}


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
