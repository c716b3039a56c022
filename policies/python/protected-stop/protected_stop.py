"""A ``stop`` that refuses to stop protected services, and otherwise does
exactly what the reference executor does (the Python twin of
``policies/examples/protected-stop``).

A service is protected when it is in ``PROTECTED`` or its container carries
the label named by the ``protected_label`` setting (default
``org.sme.protected``) set to ``true``. Install it as ``stop``."""

from sme_guest import Failure, HostError, containers, log, operation, settings
from sme_guest.edgex import Lifecycle, failure, lifecycle

#: Services the agent may never stop: the data store and the secret store.
PROTECTED = ["edgex-redis", "edgex-core-consul", "edgex-vault"]

PROTECTED_LABEL = settings.Text(
    "protected_label", "org.sme.protected",
    "Container label that protects its container when set to true",
)


@operation
def stop(request):
    service = request.service
    if service in PROTECTED or labelled_protected(service):
        log.warn(f"refused to stop protected service {service}")
        raise Failure(f"{Lifecycle.STOP.prefix()}: {service} is protected and may not be stopped")
    return lifecycle(Lifecycle.STOP, service)


def labelled_protected(service):
    label = PROTECTED_LABEL.get()
    try:
        container = containers.inspect(service)
    except HostError as error:
        raise Failure(failure(Lifecycle.STOP, service, error)) from None
    return container.label(label) == "true"
