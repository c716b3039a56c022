"""Small values the module keeps between runs, under its own keys (no other
module sees them): when it last restarted a service, how many times in a row
something failed. Bounded by the limits ``state_keys`` (16) and ``state_kib``
(4 KiB of keys and values); every write is audited. A key has 1 to 128 bytes
and no control characters.

Runs of the executor happen at once (the agent runs one per service), so a
read-then-write can lose another run's write: change a value with
:func:`update` (or :func:`compare_and_set`), which writes only if nothing
changed since it read.

>>> from sme_guest import state, testing
>>> testing.Scene().state("failures", "2").install()
>>> state.update("failures", lambda n: str(int(n or "0") + 1))
'3'
>>> state.get("failures")
'3'
>>> state.keys()
['failures']
"""

from __future__ import annotations

from typing import Callable, List, Optional

from . import types as t
from ._host import backend

#: How many times :func:`update` reads and tries again when other runs keep
#: changing the value first.
UPDATE_ATTEMPTS = 8


def get(key: str) -> Optional[str]:
    """The value kept under ``key``; None when nothing is."""
    return backend().state_get(key)


def compare_and_set(key: str, expected: Optional[str], value: Optional[str]) -> bool:
    """Replaces the value under ``key`` by ``value`` (removes it when None) if
    the value kept now is ``expected`` (None: nothing is kept). False when
    another run changed it first: nothing was written. Raises
    :class:`~sme_guest.types.LimitExceeded` when the write would pass the
    module's limits."""
    return backend().compare_and_set(key, expected, value)


def keys() -> List[str]:
    """Every key the module keeps, sorted."""
    return backend().state_keys()


def update(key: str, change: Callable[[Optional[str]], Optional[str]]) -> Optional[str]:
    """Changes the value under ``key`` to what ``change`` makes of the value
    kept now (None: remove it), atomically: when another run changed it in
    between, reads it again and retries, up to :data:`UPDATE_ATTEMPTS` times.
    Answers the value written. Each attempt is two host calls."""
    for _ in range(UPDATE_ATTEMPTS):
        now = get(key)
        after = change(now)
        if compare_and_set(key, now, after):
            return after
    raise t.LimitExceeded(
        f"the value under {key!r} changed under each of {UPDATE_ATTEMPTS} attempts to update it")
