"""Property-based checks of every endpoint against the app's own OpenAPI document.

Each operation gets generated inputs (valid and not), half the time with ids that exist, sent
as the owner (JWT), a developer (API key) and another tenant's viewer: no 5xx, declared status
codes, content types and schemas, and no success the caller's role forbids. A small budget;
``scripts/fuzz`` is the deep run (see tests/contract/fuzzing.py).
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ledgerbridge.security.roles import Role
from tests.contract.fuzzing import Identity, Report, developer_key, fuzz, seed

EXAMPLES = 20


@pytest.mark.timeout(1200)
def test_no_server_errors_and_responses_match_the_schema(app: FastAPI, auth) -> None:
    owner = auth("org-fuzz", "owner")
    with TestClient(app) as client:
        ids = seed(client, owner, sandbox_url=None)
        developer = developer_key(client, owner)
    identities = [
        Identity("owner JWT", owner, Role.owner),
        Identity("developer API key", developer, Role.developer),
        Identity("other tenant's viewer", auth("org-fuzz-other", "viewer"), Role.viewer, True),
    ]
    report = fuzz(app, identities, ids, EXAMPLES, Report())
    assert report.operations
    assert not report.failures, "\n".join(report.lines())
