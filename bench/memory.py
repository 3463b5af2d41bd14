"""A process's own peak memory, for the benchmarks' child processes."""

from __future__ import annotations

import resource
from pathlib import Path

_STATUS = Path("/proc/self/status")


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB since it started its program.

    Linux keeps `ru_maxrss` across fork and exec: a child started by a parent that once used
    370 MB reports at least 370 MB whatever it used itself (building the 100,000-article
    store in the parent did exactly that). `VmHWM` is the peak of the process's own memory,
    which exec starts afresh; `ru_maxrss` only where there is no /proc.
    """
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
