"""What a reconciliation side can be, and reading it into matching items.

A side is either unified records of a connection (with filters) or an imported
statement. Item ids name where an item came from (``record:12``, ``line:34``), so they
stay stable from run to run and a reviewer's decisions keep pointing at the same thing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledgerbridge.connections.models import Connection
from ledgerbridge.reconcile.matching import Item
from ledgerbridge.reconcile.models import Statement, StatementEntry
from ledgerbridge.schemas import Name
from ledgerbridge.sync.models import Record
from ledgerbridge.unified import Model

ObjectId = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,17}$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]

# What each records source kind reads: (unified model, its document type or None).
RECORD_KINDS: dict[str, tuple[Model, str | None]] = {
    "invoices": (Model.invoice, "sales"),
    "bills": (Model.invoice, "bill"),
    "payments": (Model.payment, None),
    "bank_transactions": (Model.bank_transaction, None),
    "credit_notes": (Model.credit_note, None),
    "sales": (Model.sale, None),
}
RecordKind = Literal["invoices", "bills", "payments", "bank_transactions", "credit_notes", "sales"]


class _Filters(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    currency: Currency | None = None

    @model_validator(mode="after")
    def _check_dates(self) -> _Filters:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from must not be after date_to")
        return self

    def admits(self, item: Item) -> bool:
        return (
            (self.date_from is None or item.date >= self.date_from)
            and (self.date_to is None or item.date <= self.date_to)
            and (self.currency is None or item.currency == self.currency)
        )


class RecordsSource(_Filters):
    """Unified records of a connection."""

    type: Literal["records"] = "records"
    connection_id: ObjectId
    kinds: list[RecordKind] = Field(min_length=1, max_length=6)
    statuses: list[Name] | None = Field(
        None, max_length=10, description="keep only records in these unified statuses"
    )
    contact: Name | None = Field(
        None, description="a contact's remote id or exact name (case-insensitive)"
    )


class StatementSource(_Filters):
    """The lines of an imported statement."""

    type: Literal["statement"] = "statement"
    statement_id: ObjectId


Source = Annotated[RecordsSource | StatementSource, Field(discriminator="type")]


class SourceError(ValueError):
    """A source that names something this tenant does not have."""


def require_source(session: Session, source: RecordsSource | StatementSource) -> None:
    """Raise SourceError unless the connection or statement exists for this tenant."""
    if isinstance(source, StatementSource):
        _statement(session, source)
    else:
        _connection(session, source)


def load_items(session: Session, source: RecordsSource | StatementSource) -> list[Item]:
    if isinstance(source, StatementSource):
        return [item for item in _statement_items(session, source) if source.admits(item)]
    return [item for item in _record_items(session, source) if source.admits(item)]


def _statement(session: Session, source: StatementSource) -> Statement:
    statement = session.get(Statement, int(source.statement_id))
    if statement is None or statement.deleted_at is not None:
        raise SourceError(f"statement {source.statement_id} not found")
    return statement


def _connection(session: Session, source: RecordsSource) -> Connection:
    connection = session.get(Connection, int(source.connection_id))
    if connection is None:
        raise SourceError(f"connection {source.connection_id} not found")
    return connection


def _statement_items(session: Session, source: StatementSource) -> Iterable[Item]:
    statement = _statement(session, source)
    # Plain rows, not ORM objects: a run may read hundreds of thousands of lines.
    lines = session.execute(
        select(
            StatementEntry.id,
            StatementEntry.amount,
            StatementEntry.currency,
            StatementEntry.booked_on,
            StatementEntry.reference,
            StatementEntry.description,
            StatementEntry.counterparty,
        )
        .where(StatementEntry.statement_id == statement.id)
        .order_by(StatementEntry.id)
    )
    for line in lines:
        yield Item(
            id=f"line:{line.id}",
            amount=Decimal(line.amount),
            currency=line.currency,
            date=line.booked_on,
            reference=line.reference,
            text=line.description,
            counterparty=line.counterparty,
            kind="bank_line",
        )


def _record_items(session: Session, source: RecordsSource) -> Iterable[Item]:
    connection = _connection(session, source)
    names = _contact_names(session, connection.id)
    wanted_contact = source.contact.casefold() if source.contact else None
    statuses = set(source.statuses or ())
    for kind in dict.fromkeys(source.kinds):
        model, document_type = RECORD_KINDS[kind]
        records = session.execute(
            select(Record.id, Record.data)
            .where(
                Record.connection_id == connection.id,
                Record.model == model.value,
                Record.remote_was_deleted.is_(False),
                Record.deleted_at.is_(None),
            )
            .order_by(Record.id)
        )
        for record_id, raw in records:
            data = json.loads(raw)
            if document_type is not None and data.get("type") != document_type:
                continue
            if statuses and data.get("status") not in statuses:
                continue
            contact_id = data.get("contact_remote_id")
            name = names.get(contact_id) if contact_id else None
            if wanted_contact and wanted_contact not in {
                (contact_id or "").casefold(),
                (name or "").casefold(),
            }:
                continue
            item = _record_item(f"record:{record_id}", model, data, name)
            if item is not None:
                yield item


def _contact_names(session: Session, connection_id: int) -> dict[str, str]:
    rows = session.execute(
        select(Record.remote_id, Record.data).where(
            Record.connection_id == connection_id, Record.model == Model.contact.value
        )
    )
    return {remote_id: json.loads(data)["name"] for remote_id, data in rows if remote_id}


def _record_item(item_id: str, model: Model, data: dict[str, Any], name: str | None) -> Item | None:
    """A unified record as a matching item; None when it has no date to match on."""
    if model is Model.invoice:
        when, amount, reference = data.get("issue_date"), Decimal(data["total"]), data.get("number")
        text = " ".join(filter(None, [data.get("number"), data.get("reference")]))
    elif model is Model.credit_note:
        when, amount, reference = (
            data.get("issue_date"),
            -Decimal(data["total"]),
            data.get("number"),
        )
        text = data.get("number") or ""
    elif model is Model.payment:
        when, amount, reference = data.get("date"), Decimal(data["amount"]), data.get("reference")
        text = reference or ""
    elif model is Model.bank_transaction:
        amount = Decimal(data["amount"]) * (1 if data["direction"] == "receive" else -1)
        when, reference = data.get("date"), data.get("reference")
        text = " ".join(filter(None, [data.get("reference"), data.get("description")]))
    else:  # a sale
        when, amount, reference = data.get("date"), Decimal(data["total"]), data.get("number")
        text = data.get("number") or ""
    if not when:
        return None
    return Item(
        id=item_id,
        amount=amount,
        currency=data["currency"],
        date=dt.date.fromisoformat(str(when)[:10]),
        reference=reference,
        text=text,
        counterparty=name,
        due_date=dt.date.fromisoformat(data["due_date"]) if data.get("due_date") else None,
        kind=model.value if model is not Model.invoice else f"{data['type']}_invoice",
    )
