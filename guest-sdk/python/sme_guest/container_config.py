"""Parts of a container's configuration ``inspect`` does not report, checked
against the module's ``inspect`` grant.

>>> from sme_guest import container_config, testing
>>> testing.Scene().container("edgex-core-data").install()
>>> container_config.stop_timeout("edgex-core-data") or container_config.DOCKER_DEFAULT_STOP_TIMEOUT
10
"""

from __future__ import annotations

from typing import Optional

from ._host import backend

#: The grace period, in seconds, Docker gives a container that sets no stop
#: timeout of its own.
DOCKER_DEFAULT_STOP_TIMEOUT = 10


def stop_timeout(name: str) -> Optional[int]:
    """The container's own stop timeout in seconds (Docker's ``Config.StopTimeout``);
    None when it sets none and :data:`DOCKER_DEFAULT_STOP_TIMEOUT` applies."""
    return backend().stop_timeout(name)
