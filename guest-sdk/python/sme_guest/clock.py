"""Time within the module's deadline.

>>> from sme_guest import clock, testing
>>> testing.Scene().install()
>>> started = clock.now_ms()
>>> clock.sleep(250)
>>> clock.now_ms() - started
250
"""

from __future__ import annotations

from ._host import backend


def now_ms() -> int:
    """Milliseconds since the Unix epoch."""
    return backend().now_ms()


def sleep(millis: int) -> None:
    """Waits ``millis`` milliseconds; raises :class:`~sme_guest.types.LimitExceeded`
    when the wait would end after the module's deadline."""
    backend().sleep(millis)
