"""The OpenAPI document as committed in ``docs/openapi.json``: built from ``create_app()``.

``python -m tests.contract.snapshot`` (``scripts/update-openapi``) rewrites the copy. The
copy is deterministic: sorted keys, two-space indent, and ``v1`` for the version (the release
version changes without the contract changing).
"""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

from ledgerbridge.app import create_app
from ledgerbridge.settings import load_settings

SNAPSHOT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def document(app: Any | None = None) -> dict[str, Any]:
    """The app's OpenAPI document without release noise (a fresh app unless one is given)."""
    if app is None:
        with tempfile.TemporaryDirectory() as data:
            settings = load_settings(
                database_url=f"sqlite:///{data}/openapi.db",
                data_dir=Path(data),
                jwt_secret="j" * 48,
                secret_key="k" * 48,
            )
            app = create_app(settings)
    doc: dict[str, Any] = copy.deepcopy(app.openapi())
    # The release version changes without the contract changing: the copy names the API's.
    doc.setdefault("info", {})["version"] = "v1"
    return doc


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def committed() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    return loaded


def main() -> None:
    text = render(document())
    old = SNAPSHOT.read_text(encoding="utf-8") if SNAPSHOT.exists() else None
    SNAPSHOT.write_text(text, encoding="utf-8")
    print(f"{SNAPSHOT}: {'unchanged' if old == text else 'updated'}")


if __name__ == "__main__":
    main()
