"""CPU measurement over a window the policy chooses.

>>> from sme_guest import cpu_window, testing
>>> testing.Scene().container("edgex-core-data").install()
>>> measurement = cpu_window.recent_within("edgex-core-data", 3000)
"""

from __future__ import annotations

from ._host import backend
from .types import Measurement


def recent_within(name: str, max_age_ms: int) -> Measurement:
    """Like :func:`sme_guest.stats.recent`, but the kept CPU reading is at most
    ``max_age_ms`` old (capped at two minutes by the runtime); with none that
    recent, it measures as ``docker stats`` does (1 to 2 s)."""
    return backend().measure(name, "within", max_age_ms)
