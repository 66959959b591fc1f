"""Bank statement importers: CSV (column mapping and presets), OFX/QFX and camt.053.

Each returns every line of the file or raises StatementError naming the line and the
problem; nothing partial is returned.
"""

from ledgerbridge.reconcile.statements.camt053 import parse_camt053
from ledgerbridge.reconcile.statements.csv_import import PRESETS, CsvMapping, parse_csv
from ledgerbridge.reconcile.statements.lines import StatementError, StatementLine, to_item
from ledgerbridge.reconcile.statements.ofx import parse_ofx

__all__ = [
    "PRESETS",
    "CsvMapping",
    "StatementError",
    "StatementLine",
    "parse_camt053",
    "parse_csv",
    "parse_ofx",
    "to_item",
]
