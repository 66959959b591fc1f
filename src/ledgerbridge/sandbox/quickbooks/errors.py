"""QuickBooks' ``Fault`` bodies, worded as QuickBooks words them.

Every error the emulator answers is a :class:`QboFault`; the routes turn it into
``{"Fault": {"Error": [...], "type": ...}, "time": ...}`` with its HTTP status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ErrorItem:
    message: str
    detail: str
    code: str
    element: str = ""

    def to_json(self) -> dict[str, str]:
        item = {"Message": self.message, "Detail": self.detail, "code": self.code}
        if self.element:
            item["element"] = self.element
        return item


@dataclass
class QboFault(Exception):
    fault_type: str
    errors: list[ErrorItem]
    status: int = 400
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return "; ".join(f"{e.code} {e.message}: {e.detail}" for e in self.errors)

    def to_json(self) -> dict[str, Any]:
        return {"Error": [e.to_json() for e in self.errors], "type": self.fault_type}


def validation_fault(message: str, detail: str, code: str, element: str = "") -> QboFault:
    return QboFault("ValidationFault", [ErrorItem(message, detail, code, element)])


def authentication_fault(detail: str = "Token invalid") -> QboFault:
    item = ErrorItem(
        "message=AuthenticationFailed; errorCode=003200; statusCode=401", detail, "3200"
    )
    return QboFault("AuthenticationFault", [item], status=401)


def authorization_fault() -> QboFault:
    item = ErrorItem(
        "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403", "", "3100"
    )
    return QboFault("AuthorizationFault", [item], status=403)


def object_not_found(entity: str, record_id: str) -> QboFault:
    return validation_fault(
        "Object Not Found",
        f"Object Not Found : Something you're trying to use has been made inactive. "
        f"Check the fields with accounts, customers, items, vendors or employees. "
        f"({entity} {record_id})",
        "610",
    )


def stale_object(entity: str, record_id: str, current: str) -> QboFault:
    return validation_fault(
        "Stale Object Error",
        f"Stale Object Error : You and root were working on this at the same time. "
        f"root finished before you did, so your work was not saved. "
        f"({entity} {record_id} is at SyncToken {current})",
        "5010",
    )


def duplicate_name(name: str) -> QboFault:
    return validation_fault(
        "Duplicate Name Exists Error",
        f"The name supplied already exists. : Another customer, vendor or employee is already "
        f"using this name. Please use a different name. ({name})",
        "6240",
    )


def required_param(element: str) -> QboFault:
    return validation_fault(
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {element} is missing in the request",
        "2020",
        element,
    )


def invalid_reference(element: str, record_id: str) -> QboFault:
    return validation_fault(
        "Invalid Reference Id",
        f"Invalid Reference Id : {element} {record_id} does not exist or is inactive",
        "2500",
        element,
    )


def business_validation(detail: str) -> QboFault:
    return validation_fault(
        "A business validation error has occurred while processing your request",
        f"Business Validation Error: {detail}",
        "6000",
    )


def unsupported_operation(operation: str) -> QboFault:
    return validation_fault(
        "Unsupported Operation", f"Operation {operation} is not supported.", "500"
    )


def invalid_request(detail: str, element: str = "") -> QboFault:
    """A request QuickBooks cannot read (bad JSON, a bad parameter)."""
    return validation_fault("Request has invalid or unsupported property", detail, "2010", element)


def query_parser_error(detail: str) -> QboFault:
    return validation_fault("Error parsing query", f"QueryParserError: {detail}", "4000")


def query_validation_error(detail: str) -> QboFault:
    return validation_fault("Invalid query", f"QueryValidationError: {detail}", "4001")


def system_fault(detail: str) -> QboFault:
    return QboFault(
        "SystemFault",
        [
            ErrorItem(
                "An application error has occurred while processing your request",
                f"System Failure Error: {detail}",
                "10000",
            )
        ],
        status=500,
    )
