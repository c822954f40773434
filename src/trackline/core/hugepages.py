"""Opting the process out of transparent huge pages (Linux), for batch work.

Where the system setting is `always`, every fresh anonymous fault is served by zeroing a whole
2 MiB page, and the allocators in an ingest (Arrow's, DuckDB's, Python's) free and touch again
large regions all the time, so much of an ingest's CPU went to the OS (figures in
docs/performance.md, "Memory and the OS"). Databases commonly ask for the same (Redis, MongoDB).

The flag is per process (`prctl(PR_SET_THP_DISABLE)`), inherited by children, and changes no
result: only how the kernel backs memory. Elsewhere than Linux it does nothing.
"""

from __future__ import annotations

import ctypes
import logging
import sys
from typing import Literal

log = logging.getLogger("trackline.core.hugepages")

PR_SET_THP_DISABLE = 41
PR_GET_THP_DISABLE = 42

Mode = Literal["off", "system"]


def _prctl(option: int, arg: int = 0) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.prctl(option, arg, 0, 0, 0))


def disabled() -> bool | None:
    """Whether this process opted out (None where the question does not apply)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return _prctl(PR_GET_THP_DISABLE) == 1
    except (OSError, AttributeError):
        return None


def apply(mode: Mode) -> bool:
    """`off`: opt this process out of transparent huge pages; `system`: leave it as it is.

    True when the process is opted out afterwards. Never raises: a kernel or platform without
    the call keeps the system's behaviour, which is only slower.
    """
    if mode == "system" or not sys.platform.startswith("linux"):
        return bool(disabled())
    try:
        if _prctl(PR_SET_THP_DISABLE, 1) != 0:
            log.debug("hugepages.unchanged errno=%d", ctypes.get_errno())
            return False
    except (OSError, AttributeError):
        return False
    return True
