"""Machinery: keep the memory one training step frees for the next one (Linux with glibc only).

Each training step of the lesson network allocates and frees the same buffers of a few MB
(activations, their gradients, max pooling's zero-filled gradient). glibc's ``malloc`` gives
buffers above a moving threshold back to the kernel when they are freed, and trims the top of
its heap; the next step's buffers are then fresh pages that the kernel maps and zeroes one at a
time: thousands of page faults per step, measured at 5-50% of a step on a 2-core CPU (more
when the machine is busy). Two ``mallopt`` settings make glibc keep that memory for reuse:
buffers under 32 MB come from the heap, and the heap is trimmed only when 256 MB lie free at
its top. Larger buffers (a whole dataset) are still handed back when freed.

It changes nothing elsewhere (Windows, macOS, or a Linux C library without ``mallopt``).
``helpers.train`` calls :func:`keep_freed_memory` before its first batch.
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD = -1  # glibc's <malloc.h>
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's largest allowed value on 64-bit systems
TRIM_THRESHOLD = 256 << 20

_result: bool | None = None


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed buffers for reuse (once per process); True if it agreed."""
    global _result
    if _result is None:
        _result = _set_thresholds()
    return _result


def _set_thresholds() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process already uses
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # M_MMAP_THRESHOLD first: setting either one turns off glibc's moving threshold.
    return (mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
            and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1)
