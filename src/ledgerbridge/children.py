"""Helper processes (a ``worker`` beside ``up``, statement importers) that end with the
process that started them, whichever way it ends: a SIGKILL runs no clean-up, and a
helper left behind would go on working (or holding its resources) unseen."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # prctl(2)


def start_as_helper(niceness: int) -> None:
    """Called first thing in a helper process: run at ``niceness`` (the operating system
    gives the CPU to the process answering requests first), and, on Linux, be killed
    when the process that started this one ends."""
    os.nice(niceness)
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
