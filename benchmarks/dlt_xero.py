"""dlt's ``rest_api`` source paging the sandbox's Xero invoices into PostgreSQL with merge.

Run by ``benchmarks/mirror_speed.py`` with ``.venv-bench/bin/python`` (``scripts/setup-bench``
installs dlt there, apart from ledgerbridge's own pins):

    .venv-bench/bin/python benchmarks/dlt_xero.py ORIGIN ACCESS_TOKEN TENANT_ID DATABASE_URL

Prints one JSON line: ``{"records": N, "seconds": S}`` (extract, normalise and load).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from typing import Any

import dlt
from dlt.sources.rest_api import rest_api_source


def main() -> None:
    origin, token, tenant, url = sys.argv[1:5]
    config: Any = {
        "client": {
            "base_url": f"{origin}/xero/api.xro/2.0/",
            "headers": {"Authorization": f"Bearer {token}", "xero-tenant-id": tenant},
            "paginator": {
                "type": "page_number",
                "base_page": 1,
                "page_param": "page",
                "total_path": None,
                "stop_after_empty_page": True,
            },
        },
        "resources": [
            {
                "name": "invoices",
                "primary_key": "InvoiceID",
                "write_disposition": "merge",
                "endpoint": {
                    "path": "Invoices",
                    "params": {"pageSize": 1000, "order": "UpdatedDateUTC ASC"},
                    "data_selector": "Invoices",
                },
            }
        ],
    }
    with tempfile.TemporaryDirectory() as pipelines_dir:
        pipeline = dlt.pipeline(
            pipeline_name="xero_invoices",
            destination=dlt.destinations.postgres(url),
            dataset_name="xero",
            pipelines_dir=pipelines_dir,
        )
        started = time.perf_counter()
        pipeline.run(rest_api_source(config))
        seconds = time.perf_counter() - started
        rows = pipeline.last_trace.last_normalize_info.row_counts.get("invoices", 0)
    print(json.dumps({"records": rows, "seconds": seconds}))


if __name__ == "__main__":
    main()
