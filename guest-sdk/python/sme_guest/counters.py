"""A container's counters read where Docker's collector reads them (its
cgroup), without waiting for the collector's next round.

>>> from sme_guest import counters, figures, testing
>>> testing.Scene().container("edgex-core-data", cpu_percent=12.5).install()
>>> sourced = counters.measure("edgex-core-data", 5000, 250)
>>> sourced.source
<Source.CGROUP: 0>
>>> round(figures.Figures.of(sourced.measurement).cpu_percent, 6)
12.5
"""

from __future__ import annotations

from ._host import backend
from .types import Sourced


def measure(name: str, max_age_ms: int, window_ms: int) -> Sourced:
    """``name``'s counters now, against a CPU reading of the same source kept by
    an earlier run at most ``max_age_ms`` old (capped at two minutes), else a
    second read ``window_ms`` after a first (100 to 1000 ms). Where the runtime
    cannot read the cgroup files this is
    :func:`sme_guest.cpu_window.recent_within` and says so (``Source.ENGINE``).
    A paused container measures 0 % CPU."""
    return backend().counted(name, max_age_ms, window_ms)
