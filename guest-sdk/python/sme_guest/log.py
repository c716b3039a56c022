"""Diagnostics for the operator's log; never shown to the agent.

>>> from sme_guest import log, testing
>>> testing.Scene().install()
>>> log.info("checking edgex-core-data")
>>> testing.logs()
[(<Level.INFO: 2>, 'checking edgex-core-data')]
"""

from __future__ import annotations

from ._host import backend
from .types import Level

__all__ = ["Level", "log", "debug", "info", "warn", "error"]


def log(level: Level, message: str) -> None:
    """Writes one message at ``level``, tagged with the module's name. Messages
    are truncated at 4 KiB and dropped unless logging is enabled."""
    backend().log(level, message)


def debug(message: str) -> None:
    """Logs at ``debug`` level."""
    log(Level.DEBUG, message)


def info(message: str) -> None:
    """Logs at ``info`` level."""
    log(Level.INFO, message)


def warn(message: str) -> None:
    """Logs at ``warn`` level."""
    log(Level.WARN, message)


def error(message: str) -> None:
    """Logs at ``error`` level."""
    log(Level.ERROR, message)
