"""Read-only settings from the operator's configuration
(``[modules.<name>.settings]``), declared by the module.

Declare each setting once, at the top of the policy. ``scripts/python-policy
build`` writes the declarations into the component's ``sme-settings`` custom
section, so the runtime knows each setting's type, default and range without
running the module: ``sme`` and ``smectl check`` refuse a configured key the
module does not declare, or a value out of its range, and ``smectl inspect``
lists them.

>>> from sme_guest import settings, testing
>>> GRACE_CAP_S = settings.Int("grace_cap_s", 10, 0, 10,
...     "Longest grace period asked of Docker, in seconds")
>>> testing.Scene().setting("grace_cap_s", "5").install()
>>> GRACE_CAP_S.get()
5
>>> testing.Scene().install()
>>> GRACE_CAP_S.get()
10

Descriptions and defaults must not contain tabs or newlines (the section is
one line per setting).
"""

from __future__ import annotations

import re
from typing import Dict, Optional

from ._host import backend

_KEY = re.compile(r"^[a-z0-9_]+$")
_DECLARED: Dict[str, str] = {}


def get(key: str) -> Optional[str]:
    """The configured value of ``key`` as text (an integer in decimal, a boolean
    as ``true`` or ``false``), already checked against the module's declaration;
    None when the operator set nothing."""
    return backend().setting(key)


def _declare(key: str, line: str) -> None:
    if not _KEY.match(key):
        raise ValueError(f"setting key {key!r}: use lowercase letters, digits and _")
    if "\n" in line[:-1] or line.count("\t") != 5:
        raise ValueError(f"setting {key!r}: no tabs or newlines in its default or description")
    if _DECLARED.get(key, line) != line:
        raise ValueError(f"setting {key!r} is declared twice")
    _DECLARED[key] = line


def section() -> str:
    """The text of the ``sme-settings`` custom section for every setting declared so far."""
    return "".join(_DECLARED.values())


class Int:
    """An integer setting from ``min`` to ``max`` inclusive."""

    def __init__(self, key: str, default: int, min: int, max: int, description: str):
        self.key, self.default, self.min, self.max = key, default, min, max
        _declare(key, f"{key}\tint\t{default}\t{min}\t{max}\t{description}\n")

    def get(self) -> int:
        """The configured value, else the default."""
        text = get(self.key)
        try:
            value = int(text) if text is not None else self.default
        except ValueError:
            return self.default
        return value if self.min <= value <= self.max else self.default


class Text:
    """A text setting."""

    def __init__(self, key: str, default: str, description: str):
        self.key, self.default = key, default
        _declare(key, f"{key}\tstring\t{default}\t\t\t{description}\n")

    def get(self) -> str:
        """The configured value, else the default."""
        text = get(self.key)
        return self.default if text is None else text


class Bool:
    """A boolean setting."""

    def __init__(self, key: str, default: bool, description: str):
        self.key, self.default = key, default
        _declare(key, f"{key}\tbool\t{'true' if default else 'false'}\t\t\t{description}\n")

    def get(self) -> bool:
        """The configured value, else the default."""
        text = get(self.key)
        return {"true": True, "false": False}.get(text or "", self.default)
