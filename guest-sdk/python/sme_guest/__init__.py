"""Write SME policies in a few lines of Python.

An SME policy is a WebAssembly component that decides what the EdgeX
executor does for one operation. This package hides the component bindings:
a policy is a plain function marked with :func:`operation` or :func:`metrics`,
that calls the host through typed modules (:mod:`~sme_guest.containers`,
:mod:`~sme_guest.stats`, :mod:`~sme_guest.log`, :mod:`~sme_guest.clock`,
:mod:`~sme_guest.settings`, :mod:`~sme_guest.state`, :mod:`~sme_guest.services` for Swarm services,
:mod:`~sme_guest.systemd` for systemd units, ...) and reuses the reference
executor's behaviour from :mod:`~sme_guest.edgex`, which acts on the unit or
Swarm service the request is for when the operator configured SME for one.

A stop that refuses to stop the database, and otherwise does exactly what the
reference executor does::

    from sme_guest import Failure, operation
    from sme_guest.edgex import Lifecycle, lifecycle

    @operation
    def stop(request):
        if request.service == "edgex-redis":
            raise Failure("Error stopping service: edgex-redis is protected")
        return lifecycle(Lifecycle.STOP, request.service)

Build it with ``scripts/python-policy build stop.py -o stop.wasm`` and install
it with ``smectl install stop.wasm --as stop``. Every host call is checked
against the module's grant; a call outside it raises :class:`Denied`.

Returning a string prints it and exits 0; raising :class:`Failure` prints its
text and exits 1; an uncaught :class:`HostError` fails with the host's message
(as Rust's ``?`` does); a :mod:`~sme_guest.systemd` call's error is a
:class:`UnitError`, a :class:`HostError` too. Outside a component (plain
CPython) the host is the fake in :mod:`sme_guest.testing`, so a policy's
logic is unit-tested with ``python -m unittest``.
"""

from __future__ import annotations

from .types import (
    Boolean,
    Denied,
    Docker,
    Failure,
    HostError,
    Integer,
    InvalidArgument,
    Json,
    LimitExceeded,
    Metric,
    NotFound,
    Number,
    Refused,
    Request,
    Text,
    Timeout,
    UnitError,
    Unreachable,
)

__all__ = [
    "Boolean", "Denied", "Docker", "Failure", "HostError", "Integer", "InvalidArgument", "Json",
    "LimitExceeded", "Metric", "NotFound", "Number", "Refused", "Request", "Text", "Timeout", "UnitError",
    "Unreachable", "operation", "metrics",
]

#: The policy function the component exports: (world, function), set by the
#: last decorator run (a policy module marks one function).
_EXPORTED = None


def _export(world: str, function):
    global _EXPORTED
    _EXPORTED = (world, function)
    return function


def operation(function):
    """Exports ``function(request) -> str`` as an operation policy (``start``,
    ``stop``, ``restart``, or one of your own); the function itself is left
    unchanged, so tests call it directly.

    The returned text is printed and the executor exits 0; a raised
    :class:`Failure` is printed and it exits 1.

    >>> from sme_guest import containers, edgex, testing
    >>> @operation
    ... def pause(request):
    ...     containers.pause(request.service)
    ...     return edgex.SUCCESS
    >>> testing.Scene().container("edgex-ui").install()
    >>> pause(testing.request("edgex-ui", "pause"))
    '""'
    """
    return _export("operation", function)


def metrics(function):
    """Exports ``function(request)`` as a metrics policy: the base ``metrics.wasm``
    or an add-on in ``metrics.d/``. It returns a list of :class:`Metric`, or a
    dict of field names to values (plain ``int``, ``float``, ``str``, ``bool``,
    or :class:`Json` and the other metric values), in the order they print.

    >>> from sme_guest import containers, testing
    >>> @metrics
    ... def restarts(request):
    ...     return {"restartCount": containers.inspect(request.service).restart_count}
    >>> testing.Scene().container("edgex-ui", restart_count=2).install()
    >>> restarts(testing.request("edgex-ui", "metrics"))
    {'restartCount': 2}
    """
    return _export("metrics", function)


def metric_list(fields) -> list:
    """A metrics policy's answer as a list of :class:`Metric` (a dict's items in order)."""
    if isinstance(fields, dict):
        return [Metric(name, value) for name, value in fields.items()]
    return [field if isinstance(field, Metric) else Metric(*field) for field in fields]
