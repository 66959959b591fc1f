"""Precision and recall of the engine on generated noisy data.

    python -m benchmarks.reconcile.accuracy [--invoices 4000] [--seed 7]

Links are (payment, invoice) pairs; a group match contributes each of its pairs.
Targets on the default data: auto-accepted precision >= 0.995, overall recall >= 0.95.
"""

import argparse
import sys
import time
from pathlib import Path

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.reconcile.generate import generate, job_config

from ledgerbridge.reconcile.matching import Match, MatchStatus, reconcile


def links(matches: list[Match]) -> set[tuple[str, str]]:
    return {
        (left, right) for match in matches for left in match.left_ids for right in match.right_ids
    }


def ratio(part: int, whole: int) -> float:
    return part / whole if whole else 1.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--invoices", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--show-errors", type=int, default=0)
    args = parser.parse_args()

    data = generate(args.invoices, args.seed)
    started = time.perf_counter()
    result = reconcile(data.left, data.right, job_config())
    elapsed = time.perf_counter() - started

    auto = links([m for m in result.matches if m.status is MatchStatus.AUTO_MATCHED])
    suggested = links([m for m in result.matches if m.status is MatchStatus.SUGGESTED])
    truth = data.truth
    print(f"{len(data.left)} payments vs {len(data.right)} invoices, {len(truth)} true links")
    print(f"candidate pairs: {result.candidate_pairs}   time: {elapsed:.2f} s")
    print(
        f"auto-matched:  {len(auto):6} links  precision {ratio(len(auto & truth), len(auto)):.4f}"
        f"  recall {ratio(len(auto & truth), len(truth)):.4f}"
    )
    print(
        f"suggested:     {len(suggested):6} links  precision "
        f"{ratio(len(suggested & truth), len(suggested)):.4f}"
        f"  recall {ratio(len(suggested & truth), len(truth)):.4f}"
    )
    proposed = auto | suggested
    print(
        f"overall:       {len(proposed):6} links  precision "
        f"{ratio(len(proposed & truth), len(proposed)):.4f}"
        f"  recall {ratio(len(proposed & truth), len(truth)):.4f}"
    )
    print(
        f"discrepancies: {len(result.discrepancies)}   unmatched: "
        f"{len(result.unmatched_left)} payments, {len(result.unmatched_right)} invoices"
    )

    if args.show_errors:
        by_id = {item.id: item for item in [*data.left, *data.right]}
        for match in result.matches:
            wrong = links([match]) - truth
            if wrong and match.status is MatchStatus.AUTO_MATCHED:
                print("FALSE AUTO", match.left_ids, match.right_ids, match.score, match.explanation)
                for item_id in (*match.left_ids, *match.right_ids):
                    print("   ", by_id[item_id])
        missed = truth - proposed
        for left, right in sorted(missed)[: args.show_errors]:
            print("MISSED", by_id[left], "\n      ", by_id[right])


if __name__ == "__main__":
    main()
