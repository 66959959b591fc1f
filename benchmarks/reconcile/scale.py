"""100,000 payments against 100,000 invoices: time, peak memory, candidate pairs.

    python -m benchmarks.reconcile.scale [--items 100000]

Candidate pairs must grow about linearly with the number of items (all pairs would
be 10^10 here).
"""

import argparse
import resource
import sys
import time
from pathlib import Path

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.reconcile.generate import generate, job_config

from ledgerbridge.reconcile.matching import MatchStatus, reconcile


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def cpu_seconds() -> float:
    """User and system time of this process: on a machine shared with other work the
    elapsed time overstates what the run costs, this does not."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    data = generate(args.items, args.seed)
    left, right = data.left[: args.items], data.right[: args.items]
    print(f"{len(left)} payments vs {len(right)} invoices")
    before = peak_rss_mib()
    started = time.perf_counter()
    cpu_before = cpu_seconds()
    last = [0]

    def progress(done: int, total: int) -> None:
        if done != last[0]:
            last[0] = done
            print(
                f"  {done:3d}% after {time.perf_counter() - started:6.1f} s, "
                f"{cpu_seconds() - cpu_before:5.1f} s of CPU",
                flush=True,
            )

    result = reconcile(left, right, job_config(), progress=progress)
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds() - cpu_before
    statuses = {status: 0 for status in MatchStatus}
    for match in result.matches:
        statuses[match.status] += 1
    all_pairs = len(left) * len(right)
    print(f"time:            {elapsed:.1f} s elapsed, {cpu:.1f} s of CPU")
    print(f"peak memory:     {peak_rss_mib():.0f} MiB resident ({before:.0f} MiB before the run)")
    print(
        f"candidate pairs: {result.candidate_pairs} "
        f"({result.candidate_pairs / len(left):.1f} per item, "
        f"{result.candidate_pairs / all_pairs:.2e} of all pairs)"
    )
    print(
        f"matches:         {statuses[MatchStatus.AUTO_MATCHED]} auto-matched, "
        f"{statuses[MatchStatus.SUGGESTED]} suggested; {len(result.discrepancies)} discrepancies; "
        f"unmatched {len(result.unmatched_left)} + {len(result.unmatched_right)}"
    )


if __name__ == "__main__":
    main()
