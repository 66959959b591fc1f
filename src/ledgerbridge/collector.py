"""The cycle collector paused around work that builds many objects and frees no cycles.

CPython's collector makes a full pass each time the objects it tracks grow by a quarter,
and a full pass walks every one of them holding the interpreter lock: while a large
reconciliation or a sandbox seed builds millions of objects, those passes cost more
than a tenth of the work. Reference counting still frees whatever is not in a cycle;
the collector's first pass after the pause frees the rest.
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """The collector off for the block (or the decorated call), and on again after it if
    it was on before: two overlapping blocks, as in two threads, leave it on once both
    have ended."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
