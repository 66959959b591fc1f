"""The engine against the splink library on splink's own bank-transfer data set.

    python -m benchmarks.reconcile.splink_compare [--rows N] [--skip-splink] [--data DIR]

Reads ../shared/datasets/splink-transactions (45,326 labelled transfers per side), or
the directory given with --data (a worktree sits elsewhere than ../shared). The
engine gets its items through the statement import path the API uses: the parquet rows
are written out as CSV bytes and read back with `parse_csv`. splink runs on the same
rows in the same process, configured as in its own transactions example (blocking on
amount, date and memo; amount, memo and date comparisons; u by random sampling, m by
EM), except that the example's "cheat" blocking rule on unique_id is left out because
unique_id equals the label in this data.
"""

import argparse
import csv
import io
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ledgerbridge.reconcile.matching import (
    AmountRule,
    CounterpartyRule,
    DateWindowRule,
    Item,
    JobConfig,
    MatchStatus,
    reconcile,
)
from ledgerbridge.reconcile.statements import CsvMapping, parse_csv, to_item

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets" / "splink-transactions"
MAPPING = CsvMapping(
    id_column="unique_id",
    date_column="transaction_date",
    amount_column="amount",
    description_columns=["memo"],
    default_currency="GBP",
)

Pairs = set[tuple[str, str]]


def engine_config() -> JobConfig:
    """Transfers arrive 0-30 days after they leave, sometimes net of a fee or an FX
    difference of up to about 12 %; the memo carries the payer's name."""
    return JobConfig(
        rules=[
            CounterpartyRule(name="memo", weight=3.0, threshold=80),
            AmountRule(name="amount", weight=2.0, rel_tolerance=Decimal("0.12")),
            DateWindowRule(name="arrival", weight=2.0, days_before=30, days_after=0),
        ],
        auto_accept=0.9,
        review=0.55,
    )


def load(data: Path, name: str, rows: int | None) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    table = pq.read_table(data / f"transactions_{name}.parquet")
    if rows is not None:
        table = table.slice(0, rows)
    records: list[dict[str, Any]] = table.to_pylist()
    return records


def as_csv(records: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["unique_id", "transaction_date", "memo", "amount"])
    for record in records:
        writer.writerow(
            [
                record["unique_id"],
                record["transaction_date"].isoformat(),
                record["memo"],
                repr(record["amount"]),
            ]
        )
    return buffer.getvalue().encode()


def truth_of(origin: list[dict[str, Any]], destination: list[dict[str, Any]]) -> Pairs:
    arrived = {record["ground_truth"]: str(record["unique_id"]) for record in destination}
    return {
        (str(record["unique_id"]), arrived[record["ground_truth"]])
        for record in origin
        if record["ground_truth"] in arrived
    }


def report(name: str, predicted: Pairs, truth: Pairs, seconds: float) -> None:
    hits = len(predicted & truth)
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(truth) if truth else 1.0
    print(
        f"{name:34} precision {precision:.4f}  recall {recall:.4f}  "
        f"links {len(predicted):6}  time {seconds:7.2f} s"
    )


def run_engine(
    origin: list[dict[str, Any]], destination: list[dict[str, Any]], truth: Pairs
) -> None:
    started = time.perf_counter()
    left: list[Item] = [to_item(line, "transfer") for line in parse_csv(as_csv(origin), MAPPING)]
    right: list[Item] = [
        to_item(line, "transfer") for line in parse_csv(as_csv(destination), MAPPING)
    ]
    result = reconcile(left, right, engine_config())
    seconds = time.perf_counter() - started

    def links(*statuses: MatchStatus) -> Pairs:
        return {
            (left_id, right_id)
            for match in result.matches
            if match.status in statuses
            for left_id in match.left_ids
            for right_id in match.right_ids
        }

    print(f"engine candidate pairs: {result.candidate_pairs}")
    report("engine, auto-matched", links(MatchStatus.AUTO_MATCHED), truth, seconds)
    report(
        "engine, auto-matched + suggested",
        links(MatchStatus.AUTO_MATCHED, MatchStatus.SUGGESTED),
        truth,
        seconds,
    )


def run_splink(
    origin: list[dict[str, Any]], destination: list[dict[str, Any]], truth: Pairs
) -> None:
    import logging

    import pyarrow as pa
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    logging.getLogger("splink").setLevel(logging.WARNING)
    started = time.perf_counter()
    same_memo_start = "substr(l.memo, 1,3) = substr(r.memo,1,3)"
    ratio_band = "l.amount/r.amount > 0.7 and l.amount/r.amount < 1.3"
    blocking_rules = [
        f"strftime(l.transaction_date, '%Y%m') = strftime(r.transaction_date, '%Y%m') "
        f"and {same_memo_start} and {ratio_band}",
        f"strftime(l.transaction_date+15, '%Y%m') = strftime(r.transaction_date, '%Y%m') "
        f"and {same_memo_start} and {ratio_band}",
        block_on("substr(memo,1,9)"),
        "round(l.amount/2,0)*2 = round(r.amount/2,0)*2 "
        "and yearweek(r.transaction_date) = yearweek(l.transaction_date)",
        "round(l.amount/2,0)*2 = round((r.amount+1)/2,0)*2 "
        "and yearweek(r.transaction_date) = yearweek(l.transaction_date + 4)",
    ]
    comparison_amount = {
        "output_column_name": "amount",
        "comparison_levels": [
            cll.NullLevel("amount"),
            cll.ExactMatchLevel("amount"),
            cll.PercentageDifferenceLevel("amount", 0.01),
            cll.PercentageDifferenceLevel("amount", 0.03),
            cll.PercentageDifferenceLevel("amount", 0.1),
            cll.PercentageDifferenceLevel("amount", 0.3),
            cll.ElseLevel(),
        ],
        "comparison_description": "Amount percentage difference",
    }
    within = (
        "transaction_date_r - transaction_date_l <= {n} "
        "and transaction_date_r >= transaction_date_l"
    )
    comparison_date = {
        "output_column_name": "transaction_date",
        "comparison_levels": [
            cll.NullLevel("transaction_date"),
            {"sql_condition": within.format(n=1), "label_for_charts": "1 day"},
            {"sql_condition": within.format(n=4), "label_for_charts": "<=4 days"},
            {"sql_condition": within.format(n=10), "label_for_charts": "<=10 days"},
            {"sql_condition": within.format(n=30), "label_for_charts": "<=30 days"},
            cll.ElseLevel(),
        ],
        "comparison_description": "Transaction date days apart",
    }
    settings = SettingsCreator(
        link_type="link_only",
        probability_two_random_records_match=1 / len(origin),
        blocking_rules_to_generate_predictions=blocking_rules,
        comparisons=[
            comparison_amount,
            cl.LevenshteinAtThresholds("memo", [2, 6, 10]),
            comparison_date,
        ],
        retain_intermediate_calculation_columns=True,
    )
    db_api = DuckDBAPI()
    tables = [pa.Table.from_pylist(origin), pa.Table.from_pylist(destination)]
    if hasattr(db_api, "register"):  # splink 4.1 and later
        registered = [
            db_api.register(table, dataset_display_name=name)
            for table, name in zip(tables, ["__ori", "_dest"], strict=True)
        ]
        linker = Linker(registered, settings)
    else:  # splink 4.0
        linker = Linker(tables, settings, db_api, input_table_aliases=["__ori", "_dest"])
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("memo"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("amount"))
    predictions = linker.inference.predict(threshold_match_probability=0.001)
    scored = _records(predictions)
    trained = time.perf_counter() - started

    def pairs_at(threshold: float) -> Pairs:
        found = set()
        for row in scored:
            if row["match_probability"] < threshold:
                continue
            left, right = str(row["unique_id_l"]), str(row["unique_id_r"])
            if row["source_dataset_l"] != "__ori":
                left, right = right, left
            found.add((left, right))
        return found

    print(f"splink compared pairs: {len(scored)} (match probability >= 0.001)")
    report("splink, pairwise p >= 0.5", pairs_at(0.5), truth, trained)
    report("splink, pairwise p >= 0.9", pairs_at(0.9), truth, trained)

    started = time.perf_counter()
    clusters = linker.clustering.cluster_using_single_best_links(
        predictions, duplicate_free_datasets=["__ori", "_dest"], threshold_match_probability=0.5
    )
    members: dict[Any, dict[str, str]] = {}
    for row in _records(clusters):
        members.setdefault(row["cluster_id"], {})[row["source_dataset"]] = str(row["unique_id"])
    one_to_one = {
        (group["__ori"], group["_dest"])
        for group in members.values()
        if "__ori" in group and "_dest" in group
    }
    report(
        "splink + single best links (1:1)",
        one_to_one,
        truth,
        trained + time.perf_counter() - started,
    )


def _records(frame: Any) -> list[dict[str, Any]]:
    """A splink result's rows (splink 4.1 hands out arrow tables, 4.0 record dicts)."""
    if hasattr(frame, "as_pyarrow_table"):
        rows: list[dict[str, Any]] = frame.as_pyarrow_table().to_pylist()
        return rows
    records: list[dict[str, Any]] = frame.as_record_dict()
    return records


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=None, help="use only the first N rows")
    parser.add_argument("--skip-splink", action="store_true")
    parser.add_argument("--skip-engine", action="store_true")
    parser.add_argument("--data", type=Path, default=DATA, help="the data set's directory")
    args = parser.parse_args()
    if not args.data.is_dir():
        sys.exit(f"{args.data.resolve()} is absent: this benchmark needs ../shared or --data.")
    origin = load(args.data, "origin", args.rows)
    destination = load(args.data, "destination", args.rows)
    truth = truth_of(origin, destination)
    print(
        f"{len(origin)} origin vs {len(destination)} destination transfers, {len(truth)} true links"
    )
    if not args.skip_engine:
        run_engine(origin, destination, truth)
    if not args.skip_splink:
        run_splink(origin, destination, truth)


if __name__ == "__main__":
    main()
