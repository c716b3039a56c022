"""A ``restart`` with exponential backoff, remembered between runs with the
``state`` interface (the Python twin of ``policies/examples/backoff-restart``).

Per service, it keeps when it last restarted it and how long the next
restart must wait, under ``backoff:<service>`` (``<last ms> <wait ms>``). A
restart inside the wait is refused, saying when the next is allowed; one
after it goes through and doubles the wait (from ``base_s``, at most
``max_s``), unless the service went ``quiet_s`` without a restart. The wait
is claimed with a compare-and-set before the restart. Install it as
``restart``."""

from sme_guest import Failure, HostError, clock, operation, settings, state
from sme_guest.edgex import Lifecycle, lifecycle

BASE_S = settings.Int("base_s", 30, 1, 3_600, "First wait between two restarts of one service, in seconds")
MAX_S = settings.Int("max_s", 1_800, 1, 86_400, "Longest wait between two restarts of one service, in seconds")
QUIET_S = settings.Int("quiet_s", 3_600, 1, 604_800,
                       "A service not restarted for this long after its wait starts again from base_s, in seconds")


def parse(text):
    """``(last_ms, wait_ms)`` from a kept value, or None."""
    try:
        last, wait = text.split(" ")
        return int(last), int(wait)
    except (AttributeError, ValueError):
        return None


def decide(now_ms, kept, base_ms, max_ms, quiet_ms):
    """``(True, (last_ms, wait_ms))`` to keep if the restart may go through, else
    ``(False, allowed_ms)``."""
    if kept is None:
        return True, (now_ms, base_ms)
    last_ms, wait_ms = kept
    allowed_ms = last_ms + wait_ms
    if now_ms < allowed_ms:
        return False, allowed_ms
    if now_ms >= allowed_ms + quiet_ms:
        return True, (now_ms, base_ms)
    return True, (now_ms, min(max(wait_ms * 2, base_ms), max_ms))


@operation
def restart(request):
    service = request.service
    prefix = Lifecycle.RESTART.prefix()
    key = f"backoff:{service}"
    base_ms, max_ms, quiet_ms = BASE_S.get() * 1000, MAX_S.get() * 1000, QUIET_S.get() * 1000
    for _ in range(state.UPDATE_ATTEMPTS):
        now_ms = clock.now_ms()
        try:
            kept = state.get(key)
        except HostError as error:
            raise Failure(f"{prefix}: {error}") from None
        before = parse(kept)
        allowed, value = decide(now_ms, before, base_ms, max_ms, quiet_ms)
        if not allowed:
            last_ms = before[0] if before else 0
            ago = max(now_ms - last_ms, 0) // 1000
            left = -(-(value - now_ms) // 1000)
            raise Failure(f"{prefix}: backing off: {service} was restarted {ago} s ago, "
                          f"the next restart is allowed in {left} s")
        try:
            if state.compare_and_set(key, kept, f"{value[0]} {value[1]}"):
                return lifecycle(Lifecycle.RESTART, service)
        except HostError as error:
            raise Failure(f"{prefix}: {error}") from None
    raise Failure(f"{prefix}: {service}'s backoff kept changing under other restarts; not restarted")
