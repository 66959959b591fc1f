"""Building a QuickBooks record from what a client sent, as QuickBooks completes it.

Names get their " (deleted)" suffix when inactive; references get their names; lines
are numbered and a sales document gets QuickBooks' subtotal line; totals, tax, balances
and home-currency amounts are derived, whatever the client sent. Nothing is stored here.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ledgerbridge.sandbox.quickbooks import errors
from ledgerbridge.sandbox.quickbooks.company import Company, records
from ledgerbridge.sandbox.quickbooks.dates import format_date
from ledgerbridge.sandbox.quickbooks.entities import (
    PEOPLE,
    Record,
    as_number,
    currency_ref,
    exchange_rate,
    is_deleted,
    money,
    total,
)
from ledgerbridge.sandbox.state import SandboxState

DELETED_SUFFIX = " (deleted)"

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


def build_record(
    state: SandboxState, company: Company, entity: str, fields: Record, previous: Record | None
) -> Record:
    """The record for ``fields`` (cleaned, without system fields), replacing ``previous``."""
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
        tax = money(taxable * company.realm.tax_rate)  # QuickBooks computes it; sent tax is ignored
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
    if sale:
        if currency != company.realm.currency:
            record["HomeTotalAmt"] = as_number(money(amount * rate))
        record.setdefault("EmailStatus", "NotSet")
        record.setdefault("PrintStatus", "NotSet")
        record.setdefault("ApplyTaxAfterDiscount", False)
    else:
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
            detail = dict(line.get(kind) or {})
            if "ItemRef" not in detail:
                raise errors.required_param("Line.SalesItemLineDetail.ItemRef")
            detail["ItemRef"] = _named_ref(state, company, "Item", detail["ItemRef"], "ItemRef")
            amount = _line_amount(line, detail)
            detail.setdefault("TaxCodeRef", {"value": "NON"})
            if detail["TaxCodeRef"].get("value") == "TAX":
                taxable += amount
            subtotal += amount
        elif kind == "DiscountLineDetail":
            detail = dict(line.get(kind) or {})
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
