"""How fast the provider sandbox seeds and serves a 100,000-record collection.

    .venv/bin/python benchmarks/sandbox_serving.py [--size 100000] [--seed 1]

Seeds every provider (timing each), serves the sandbox from this process with rate
limits off, and reads, over real HTTP from a separate client process (so the two do not
share an interpreter lock), a whole 100,000-record collection per provider: Xero
Invoices page by page (100 and 1,000 a page), QuickBooks Invoice by query with
STARTPOSITION/MAXRESULTS, Lightspeed sales by version. Prints pages/s and records/s.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import httpx

from ledgerbridge.sandbox.app import create_app
from ledgerbridge.sandbox.consent import approve_consent
from ledgerbridge.sandbox.providers import provider_modules
from ledgerbridge.sandbox.serve import serving
from ledgerbridge.sandbox.settings import SandboxSettings

CLIENT = ("sandbox-client-id", "sandbox-client-secret")
REDIRECT_URI = "http://127.0.0.1:8765/callback"
AUTHORIZE = {
    "xero": "/xero/identity/connect/authorize",
    "quickbooks": "/quickbooks/connect/oauth2",
    "lightspeed": "/lightspeed/connect",
}
SCOPES = {
    "xero": "offline_access accounting.transactions",
    "quickbooks": "com.intuit.quickbooks.accounting",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--client", help=argparse.SUPPRESS)  # the origin, in the client process
    args = parser.parse_args()
    if args.client:
        read_collections(args.client)
        return
    settings = SandboxSettings(rate_limits=False, xero_access_token_seconds=86_400)
    started = time.perf_counter()
    app = create_app(settings, seed=args.seed, size=args.size)
    total = time.perf_counter() - started
    state = app.state.sandbox
    print(f"seed {args.seed}, size {args.size}")
    for name, seconds in state.seed_seconds.items():
        records = sum(
            len(state.store.collection(name, account.account_id, object_type))
            for account in state.store.accounts_of(name)
            for object_type in provider_modules()[name].OBJECT_TYPES
        )
        print(f"  seeded {name:<10} {records:>9,} records in {seconds:6.1f} s")
    print(f"  app ready in {total:.1f} s")
    with serving(app) as origin:
        subprocess.run([sys.executable, __file__, "--client", origin], check=True)


# --- the client process --------------------------------------------------------------


def read_collections(origin: str) -> None:
    with httpx.Client(base_url=origin, timeout=120) as http:
        providers = [a["provider"] for a in http.get("/_sandbox/accounts").json()]
        tokens = {
            p: connect(http, p) for p in ("xero", "quickbooks", "lightspeed") if p in providers
        }
        if "xero" in tokens:
            for page_size in (100, 1000):
                measure(
                    f"xero Invoices, {page_size}/page", xero_pages(http, tokens["xero"], page_size)
                )
        if "quickbooks" in tokens:
            measure(
                "quickbooks Invoice query, 1000/page", quickbooks_pages(http, tokens["quickbooks"])
            )
        if "lightspeed" in tokens:
            measure("lightspeed sales, 1000/page", lightspeed_pages(http, tokens["lightspeed"]))


def connect(http: httpx.Client, provider: str) -> dict[str, str]:
    query = {
        "response_type": "code",
        "client_id": CLIENT[0],
        "redirect_uri": REDIRECT_URI,
        "state": "benchmark",
        **({"scope": SCOPES[provider]} if provider in SCOPES else {}),
    }
    origin = str(http.base_url).rstrip("/")
    url = str(httpx.URL(origin + AUTHORIZE[provider], params=query))
    redirect = {
        k: v[0] for k, v in parse_qs(urlsplit(approve_consent(url, client=http)).query).items()
    }
    account = redirect.get("realmId") or redirect.get("domain_prefix") or ""
    token_path = {
        "xero": "/xero/identity/connect/token",
        "quickbooks": "/quickbooks/oauth2/v1/tokens/bearer",
        "lightspeed": f"/lightspeed/{account}/api/1.0/token",
    }[provider]
    answer = http.post(
        token_path,
        data={
            "grant_type": "authorization_code",
            "code": redirect["code"],
            "redirect_uri": REDIRECT_URI,
        },
        auth=CLIENT,
    )
    answer.raise_for_status()
    if provider == "xero":
        account = http.get(
            "/xero/connections",
            headers={"Authorization": f"Bearer {answer.json()['access_token']}"},
        ).json()[0]["tenantId"]
    return {"access_token": answer.json()["access_token"], "account": account}


def xero_pages(http: httpx.Client, token: dict[str, str], page_size: int) -> Iterator[int]:
    headers = {
        "Authorization": f"Bearer {token['access_token']}",
        "xero-tenant-id": token["account"],
    }
    page = 1
    while True:
        body = http.get(
            "/xero/api.xro/2.0/Invoices",
            params={"page": page, "pageSize": page_size},
            headers=headers,
        ).json()
        yield len(body["Invoices"])
        if page >= body["pagination"]["pageCount"]:
            return
        page += 1


def quickbooks_pages(http: httpx.Client, token: dict[str, str]) -> Iterator[int]:
    headers = {"Authorization": f"Bearer {token['access_token']}", "Accept": "application/json"}
    start = 1
    while True:
        query = f"SELECT * FROM Invoice STARTPOSITION {start} MAXRESULTS 1000"
        body = http.get(
            f"/quickbooks/v3/company/{token['account']}/query",
            params={"query": query, "minorversion": "75"},
            headers=headers,
        ).json()
        found = len(body["QueryResponse"].get("Invoice", []))
        yield found
        if found < 1000:
            return
        start += found


def lightspeed_pages(http: httpx.Client, token: dict[str, str]) -> Iterator[int]:
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    after = 0
    while True:
        body = http.get(
            f"/lightspeed/{token['account']}/api/2.0/sales",
            params={"after": after, "page_size": 1000},
            headers=headers,
        ).json()
        if not body["data"]:
            return
        yield len(body["data"])
        after = body["version"]["max"]


def measure(label: str, pages: Iterator[int]) -> None:
    clock: Callable[[], float] = time.perf_counter
    started = clock()
    count = records = 0
    for found in pages:
        count += 1
        records += found
    seconds = clock() - started
    print(
        f"  {label:<38} {records:>8,} records in {count:>5} pages, {seconds:6.2f} s: "
        f"{count / seconds:8.1f} pages/s {records / seconds:10,.0f} records/s",
        flush=True,
    )


if __name__ == "__main__":
    main()
