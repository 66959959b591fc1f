"""``seed_providers``: a sandbox can be seeded with only some providers' accounts."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.sandbox(size=5, settings={"seed_providers": ("xero",)})
def test_only_the_chosen_providers_are_seeded(sandbox: httpx.Client) -> None:
    providers = {account["provider"] for account in sandbox.get("/_sandbox/accounts").json()}
    assert providers == {"xero"}
    assert sandbox.get("/_sandbox/settings").json()["seed_providers"] == ["xero"]
