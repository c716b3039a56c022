"""Raw resource samples; :class:`sme_guest.figures.Figures` computes what
``docker stats`` prints from them.

>>> from sme_guest import stats, testing
>>> from sme_guest.figures import Figures
>>> testing.Scene().container("edgex-core-data", cpu_percent=2.5).install()
>>> round(Figures.of(stats.recent("edgex-core-data")).cpu_percent, 6)
2.5
"""

from __future__ import annotations

from ._host import backend
from .types import CpuReading, Measurement, Sample

__all__ = ["CpuReading", "Measurement", "Sample", "one_shot", "measure", "recent"]


def one_shot(name: str) -> Sample:
    """One sample, answered at once (the Engine's ``one-shot`` stats)."""
    return backend().one_shot(name)


def measure(name: str) -> Measurement:
    """The daemon's own two-sample measurement, as ``docker stats --no-stream``
    gets it: it waits for the daemon's next collection, about 1 to 2 s."""
    return backend().measure(name, "measure")


def recent(name: str) -> Measurement:
    """A one-shot sample paired with a CPU reading the runtime kept from an
    earlier run (at most two minutes old); when there is none, this falls back
    to :func:`measure`. Fast after the first call."""
    return backend().measure(name, "recent")
