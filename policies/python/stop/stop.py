"""The built-in ``stop`` policy, in Python: ``docker stop``, then check the
container is not running. A grace period longer than ``grace_cap_s`` is
shortened so the answer reaches the agent within its 20 s."""

from sme_guest import operation, settings
from sme_guest.edgex import Lifecycle, lifecycle_within

GRACE_CAP_S = settings.Int(
    "grace_cap_s", 10, 0, 10,
    "Longest grace period asked of Docker, in seconds; a container's longer StopTimeout is shortened to it",
)


@operation
def stop(request):
    return lifecycle_within(Lifecycle.STOP, request.service, GRACE_CAP_S.get())
