"""QuickBooks' error answers as ``ProviderError``, with QuickBooks' own messages and code.

Errors come as a ``Fault``: ``{"Fault": {"Error": [{"Message", "Detail", "code",
"element"}], "type": "ValidationFault"}, "time"}`` (``SystemFault``, ``AuthenticationFault``,
``AuthorizationFault``, ``ThrottleExceeded`` ...), sometimes inside an HTTP 200, and on some
401s with every key in lower case. Anything else that is not a success (an HTML or empty
body from a proxy) is reported by its status and text.

JSON numbers with a fraction are read as ``Decimal``, so money is never rounded through a
float on its way to the mappers.
"""

from __future__ import annotations

from typing import Any

import httpx

from ledgerbridge.providers import answers
from ledgerbridge.providers.answers import exact_json
from ledgerbridge.providers.pulling import ProviderError


def raise_for_error(response: httpx.Response) -> None:
    """Return when the response succeeded; raise ``ProviderError`` for an error status or a
    ``Fault`` (inside an HTTP 200 too)."""
    raise_for_answer(response, exact_json(response.content))


def read_json(response: httpx.Response) -> dict[str, Any]:
    """The JSON object of a successful answer, parsed once; ``ProviderError`` otherwise."""
    return answers.read_json(response, raise_for_answer, "QuickBooks")


def raise_for_answer(response: httpx.Response, body: Any) -> None:
    """``raise_for_error`` for a body already parsed (None when it is not JSON)."""
    fault = _key(body, "Fault")
    if isinstance(fault, dict):
        raise _fault_error(response.status_code, fault)
    if not response.is_success:
        text = response.text.strip()[:500]
        raise ProviderError(
            response.status_code,
            f"QuickBooks answered HTTP {response.status_code} {response.reason_phrase}".strip(),
            [text] if text else [],
        )


def _fault_error(status: int, fault: dict[str, Any]) -> ProviderError:
    errors = [e for e in _key(fault, "Error") or [] if isinstance(e, dict)]
    messages = [str(m) for e in errors if (m := _key(e, "Message"))]
    details = [_detail(e) for e in errors]
    code = next((str(c) for e in errors if (c := _key(e, "code"))), None)
    message = "; ".join(dict.fromkeys(messages)) or str(_key(fault, "type") or "QuickBooks fault")
    return ProviderError(status, message, [d for d in details if d], code=code)


def _detail(error: dict[str, Any]) -> str:
    detail = str(_key(error, "Detail") or "")
    element = _key(error, "element")
    return f"{detail} (element {element})" if element else detail


def _key(mapping: Any, name: str) -> Any:
    """``mapping[name]``, or its lower-case spelling (QuickBooks uses both)."""
    if not isinstance(mapping, dict):
        return None
    return mapping.get(name, mapping.get(name.lower()))
