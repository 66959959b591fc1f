"""Bank statement importers: CSV (column mapping and presets), OFX/QFX and camt.053.

Each returns every line of the file or raises StatementError naming the line and the
problem; nothing partial is returned. ``iter_ofx`` gives the lines as it reads them (and
may raise after some): its caller keeps what it stored hidden until the end.
"""

from ledgerbridge.reconcile.statements.camt053 import parse_camt053
from ledgerbridge.reconcile.statements.csv_import import PRESETS, CsvMapping, parse_csv
from ledgerbridge.reconcile.statements.lines import StatementError, StatementLine, to_item
from ledgerbridge.reconcile.statements.ofx import iter_ofx, parse_ofx

__all__ = [
    "PRESETS",
    "CsvMapping",
    "StatementError",
    "StatementLine",
    "iter_ofx",
    "parse_camt053",
    "parse_csv",
    "parse_ofx",
    "to_item",
]
