"""A digest of everything the engine decides on generated data: every match (its items,
status, score, rule, evidence and open balance), every discrepancy, the unmatched items
and the number of candidate pairs. Equal digests before and after a change to the
engine show that the change left its results as they were.

    python -m benchmarks.reconcile.fingerprint [--data generate|realistic] [--items 4000]
        [--seed 11] [--out FILE]

`--out` also writes the result line by line, to compare two runs with `diff`.
"""

import argparse
import hashlib
import json
import sys
from pathlib import Path

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.reconcile import generate, realistic

from ledgerbridge.reconcile.matching import Result, reconcile


def lines(result: Result) -> list[str]:
    found = [
        json.dumps(
            [
                match.left_ids,
                match.right_ids,
                str(match.status),
                match.score,
                match.rule,
                [(e.field, e.rule, e.outcome, e.similarity, e.text) for e in match.evidence],
                str(match.remaining),
            ]
        )
        for match in result.matches
    ]
    found += [repr(discrepancy) for discrepancy in result.discrepancies]
    found.append(json.dumps([result.unmatched_left, result.unmatched_right]))
    found.append(json.dumps(result.candidate_pairs))
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", choices=["generate", "realistic"], default="generate")
    parser.add_argument("--items", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    module = generate if args.data == "generate" else realistic
    data = module.generate(args.items, args.seed)
    result = reconcile(data.left, data.right, module.job_config())
    text = "\n".join(lines(result)) + "\n"
    if args.out:
        args.out.write_text(text)
    print(f"{len(result.matches)} matches, {result.candidate_pairs} candidate pairs")
    print(f"digest: {hashlib.sha256(text.encode()).hexdigest()}")


if __name__ == "__main__":
    main()
