"""The unified-schema document names every field of every unified model."""

from __future__ import annotations

from ledgerbridge.unified import MODELS
from tests.support import REPO


def test_every_unified_field_is_documented() -> None:
    doc = (REPO / "docs" / "unified-schema.md").read_text()
    for model, cls in MODELS.items():
        section = doc.split(f"## `{model.value}`", 1)[1].split("\n## ", 1)[0]
        for field in cls.model_fields:
            assert f"| `{field}` |" in section, f"{model.value}.{field} is not documented"
