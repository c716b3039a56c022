"""The world's export, for the entry module ``scripts/python-policy`` generates:
adapts the function a policy marked with ``@operation`` or ``@metrics`` to the
class componentize-py calls. Imported only inside a component build."""

from __future__ import annotations

import sme_guest
from componentize_py_types import Err

from . import types as t


def _request(request) -> t.Request:
    return t.Request(request.service, request.operation)


def _wit_value(value):
    from wit_world.imports import types as wit

    cases = {
        t.Number: wit.MetricValue_Number,
        t.Integer: wit.MetricValue_Integer,
        t.Text: wit.MetricValue_Text,
        t.Boolean: wit.MetricValue_Boolean,
        t.Json: wit.MetricValue_Json,
    }
    return cases[type(value)](value.value)


def world_class(world: str):
    """The ``WitWorld`` class for ``world`` (``operation`` or ``metrics``)."""
    import wit_world
    from wit_world.imports import types as wit

    if sme_guest._EXPORTED is None:
        raise RuntimeError("the policy exports nothing: mark its function with @operation or @metrics")
    kind, function = sme_guest._EXPORTED
    if kind != world:
        raise RuntimeError(f"the policy's function {function.__name__} is a {kind} policy, built for the {world} world")

    if world == "operation":

        class Operation(wit_world.WitWorld):
            def run(self, request):
                try:
                    text = function(_request(request))
                except t.Failure as failure:
                    raise Err(failure.text) from None
                except t.HostError as error:
                    raise Err(error.message) from None
                if not isinstance(text, str):
                    raise TypeError(f"{function.__name__} returned {type(text).__name__}, not the text to print")
                return text

        return Operation

    class Metrics(wit_world.WitWorld):
        def collect(self, request):
            try:
                fields = sme_guest.metric_list(function(_request(request)))
            except t.Failure as failure:
                raise Err(failure.text) from None
            except t.HostError as error:
                raise Err(error.message) from None
            return [wit.Metric(field.name, _wit_value(field.value)) for field in fields]

    return Metrics
