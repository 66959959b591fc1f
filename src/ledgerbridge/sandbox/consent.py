"""The consent page: a plain HTML form, and a way to approve it without a browser.

The page lists the provider's sandbox accounts (checkboxes for Xero, whose one consent
may cover several organisations; one choice for QuickBooks and Lightspeed) and posts
back to the authorize URL. ``approve_consent`` fills and submits it as a browser would,
which is how tests, scripts and the demo connect without anyone clicking.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from html import escape
from html.parser import HTMLParser
from urllib.parse import urlencode, urljoin

import httpx

from ledgerbridge.sandbox.store import Account


def consent_page(
    provider_title: str,
    client_id: str,
    action: str,
    accounts: list[Account],
    hidden: Mapping[str, str],
    several: bool,
) -> str:
    choice = "checkbox" if several else "radio"
    rows = "\n".join(
        f'<li><label><input type="{choice}" name="account" value="{escape(a.account_id)}"'
        f"{' checked' if several or i == 0 else ''}> {escape(a.name)} "
        f"<small>({escape(a.account_id)}, {escape(a.currency)})</small></label></li>"
        for i, a in enumerate(accounts)
    )
    fields = "\n".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in hidden.items()
    )
    prompt = "Choose the organisations" if several else "Choose the account"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{escape(provider_title)} sandbox: consent</title></head>
<body>
<h1>{escape(provider_title)} sandbox</h1>
<p>The application <strong>{escape(client_id)}</strong> asks for access to your data.</p>
<form method="post" action="{escape(action)}">
{fields}
<p>{prompt} to connect:</p>
<ul>
{rows}
</ul>
<button type="submit" name="decision" value="allow">Allow access</button>
<button type="submit" name="decision" value="deny">Cancel</button>
</form>
</body></html>
"""


def error_page(message: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Error</title></head>'
        f"<body><h1>Sorry, something went wrong</h1><p>{escape(message)}</p></body></html>"
    )


@dataclass
class ConsentForm:
    action: str
    fields: list[tuple[str, str]] = field(default_factory=list)  # hidden inputs
    choices: list[tuple[str, bool]] = field(default_factory=list)  # (account id, checked)
    several: bool = False


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.form: ConsentForm | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and self.form is None:
            self.form = ConsentForm(action=a.get("action", ""))
        elif tag == "input" and self.form is not None:
            kind = a.get("type", "text")
            if kind == "hidden":
                self.form.fields.append((a["name"], a.get("value", "")))
            elif kind in ("checkbox", "radio") and a.get("name") == "account":
                self.form.choices.append((a.get("value", ""), "checked" in a))
                self.form.several = kind == "checkbox"


def parse_consent_form(html: str) -> ConsentForm:
    parser = _FormParser()
    parser.feed(html)
    if parser.form is None:
        raise ValueError("no consent form on the page")
    return parser.form


def approve_consent(
    authorize_url: str,
    accounts: Iterable[str] | None = None,
    *,
    client: httpx.Client | None = None,
    allow: bool = True,
) -> str:
    """Open the consent page, pick ``accounts`` (default: what the page pre-selects), press
    Allow (or Cancel) and return the URL the provider redirects the browser to."""
    http = client or httpx.Client()
    try:
        page = http.get(authorize_url)
        page.raise_for_status()
        form = parse_consent_form(page.text)
        wanted = set(accounts) if accounts is not None else None
        chosen = [
            value
            for value, checked in form.choices
            if (checked if wanted is None else value in wanted)
        ]
        if wanted is not None and wanted - set(chosen):
            raise ValueError(f"not offered on the consent page: {sorted(wanted - set(chosen))}")
        if not form.several:
            chosen = chosen[:1]
        data = [*form.fields, *(("account", value) for value in chosen)]
        data.append(("decision", "allow" if allow else "deny"))
        answer = http.post(
            urljoin(str(page.url), form.action),
            content=urlencode(data).encode(),
            headers={"content-type": "application/x-www-form-urlencoded"},
            follow_redirects=False,
        )
        if answer.status_code not in (302, 303):
            raise ValueError(f"consent was not accepted ({answer.status_code}): {answer.text}")
        return answer.headers["location"]
    finally:
        if client is None:
            http.close()
