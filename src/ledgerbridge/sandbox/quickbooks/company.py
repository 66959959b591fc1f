"""One QuickBooks company (realm): what it is, and the bookkeeping beside its records.

Each entity's records live in the store collection named after it (``Invoice``), in
change order: every customer, vendor, item and account (deactivated ones too, as the
control API lists them) and every live transaction. Two more collections keep queries
and change data capture a bisect and a slice, however large the company:

- ``<NameList>.active``: the active name-list records, what a plain query returns;
- ``<Transaction>.deleted``: the ``Deleted`` stubs of hard-deleted transactions, which
  only change data capture reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ledgerbridge.sandbox.quickbooks.dates import format_time
from ledgerbridge.sandbox.quickbooks.entities import NAME_LISTS, PEOPLE, Record, is_deleted
from ledgerbridge.sandbox.state import SandboxState
from ledgerbridge.sandbox.store import Collection

PROVIDER = "quickbooks"
REPLAY_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class Realm:
    realm_id: str
    name: str
    currency: str
    country: str
    time_zone: str
    offset_minutes: int  # the company's UTC offset: QuickBooks answers in company time
    tax_rate: Decimal  # the sales tax (or GST) rate applied to taxable lines
    address: dict[str, str]
    foreign_currencies: tuple[str, ...]


@dataclass
class Company:
    realm: Realm
    created_ms: int
    # role ("income", "expense", "ar", "ap", "undeposited") -> the Account Id QuickBooks fills in
    default_accounts: dict[str, str] = field(default_factory=dict)
    next_ids: dict[str, int] = field(default_factory=dict)
    next_doc_numbers: dict[str, int] = field(default_factory=dict)
    # (namespace, casefolded name) -> (entity, Id): DisplayName / Name uniqueness
    names: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    # requestid -> (HTTP status, body) of the first answer
    replays: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)

    @property
    def realm_id(self) -> str:
        return self.realm.realm_id

    def new_id(self, entity: str) -> str:
        number = self.next_ids.get(entity, 1)
        self.next_ids[entity] = number + 1
        return str(number)

    def new_doc_number(self, entity: str) -> str:
        number = self.next_doc_numbers.get(entity, 1001)
        self.next_doc_numbers[entity] = number + 1
        return str(number)

    def time(self, ms: int) -> str:
        return format_time(ms, self.realm.offset_minutes)

    def remember_reply(self, request_id: str, status: int, body: dict[str, Any]) -> None:
        if len(self.replays) >= REPLAY_CACHE_SIZE:
            del self.replays[next(iter(self.replays))]
        self.replays[request_id] = (status, body)


def companies(state: SandboxState) -> dict[str, Company]:
    found: dict[str, Company] = state.provider_data.setdefault(PROVIDER, {})
    return found


def find_company(state: SandboxState, realm_id: str) -> Company | None:
    return companies(state).get(realm_id)


@dataclass(frozen=True)
class Shelf:
    """The store collections of one entity in one company."""

    entity: str
    records: Collection  # what exists
    active: Collection | None  # name lists: only the active records
    deleted: Collection | None  # transactions: stubs of the hard-deleted ones

    def queryable(self, include_inactive: bool = False) -> Collection:
        """What a query reads: active name-list records, unless it asks about Active."""
        if self.active is None or include_inactive:
            return self.records
        return self.active

    def put(self, record: Record, stamp: int) -> None:
        record_id = record["Id"]
        if self.deleted is not None and is_deleted(record):
            self.records.remove(record_id)
            self.deleted.put(record_id, record, stamp)
            return
        self.records.put(record_id, record, stamp)
        if self.active is not None:
            if record.get("Active", True):
                self.active.put(record_id, record, stamp)
            else:
                self.active.remove(record_id)


def shelf(state: SandboxState, realm_id: str, entity: str) -> Shelf:
    store = state.store
    name_list = entity in NAME_LISTS
    return Shelf(
        entity=entity,
        records=store.collection(PROVIDER, realm_id, entity),
        active=store.collection(PROVIDER, realm_id, f"{entity}.active") if name_list else None,
        deleted=None if name_list else store.collection(PROVIDER, realm_id, f"{entity}.deleted"),
    )


def records(state: SandboxState, realm_id: str, entity: str) -> Collection:
    return state.store.collection(PROVIDER, realm_id, entity)


def save(state: SandboxState, company: Company, entity: str, record: Record, stamp: int) -> None:
    """Store a record (or a transaction's ``Deleted`` stub) at ``stamp``."""
    shelf(state, company.realm_id, entity).put(record, stamp)


def name_key(entity: str, name: str) -> tuple[str, str]:
    return ("people" if entity in PEOPLE else entity, name.casefold())


def company_info(company: Company) -> Record:
    realm = company.realm
    created = company.time(company.created_ms)
    return {
        "Id": "1",
        "SyncToken": "0",
        "domain": "QBO",
        "sparse": False,
        "CompanyName": realm.name,
        "LegalName": realm.name,
        "CompanyAddr": {"Id": "1", **realm.address},
        "LegalAddr": {"Id": "1", **realm.address},
        "CustomerCommunicationAddr": {"Id": "1", **realm.address},
        "Country": realm.country,
        "CompanyStartDate": created[:10],
        "FiscalYearStartMonth": "January",
        "SupportedLanguages": "en",
        "DefaultTimeZone": realm.time_zone,
        "NameValue": [
            {"Name": "NeoEnabled", "Value": "true"},
            {"Name": "IndustryType", "Value": "Retail Trade"},
            {"Name": "HomeCurrency", "Value": realm.currency},
            {"Name": "MultiCurrencyEnabled", "Value": "true"},
        ],
        "MetaData": {"CreateTime": created, "LastUpdatedTime": created},
    }
