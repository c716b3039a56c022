"""Numbers formatted exactly as the docker CLI formats them.

The EdgeX agent shows the executor's ``raw`` strings to its users, and the
reference executor took them from ``docker stats``, which formats with Go's
``fmt`` and the ``go-units`` package. These functions reproduce that output
byte for byte, as the Rust SDK's ``sme_guest::units`` does, including Go's
``%g`` rules (so 999.6 kB prints as ``1e+03kB``, as docker prints it).

>>> bytes_binary(5_488_247), bytes_decimal(8_192), percent(5.0789)
('5.234MiB', '8.19kB', '5.08%')
"""

from __future__ import annotations

import math

_BINARY = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"]
_DECIMAL = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]


def bytes_binary(size: float) -> str:
    """A byte count in binary units with four significant digits, like docker's
    memory figures (``units.BytesSize``).

    >>> bytes_binary(0)
    '0B'
    """
    return _scaled(float(size), 1024.0, _BINARY, 4)


def bytes_decimal(size: float) -> str:
    """A byte count in decimal units with three significant digits, like
    docker's network and block I/O figures (``units.HumanSizeWithPrecision``).

    >>> bytes_decimal(277_000)
    '277kB'
    """
    return _scaled(float(size), 1000.0, _DECIMAL, 3)


def percent(value: float) -> str:
    """A percentage with two decimals and a ``%`` sign (Go's ``%.2f%%``).

    >>> percent(0.2616)
    '0.26%'
    """
    if math.isnan(value):
        return "NaN%"
    if math.isinf(value):
        return ("inf" if value > 0 else "-inf") + "%"
    return "%.2f%%" % value


def _scaled(size: float, base: float, units: list, precision: int) -> str:
    unit = 0
    while size >= base and unit < len(units) - 1:
        size /= base
        unit += 1
    return go_g(size, precision) + units[unit]


def go_g(value: float, precision: int) -> str:
    """``value`` as Go's ``fmt.Sprintf("%.<precision>g", value)`` formats it:
    rounded to ``precision`` significant digits, trailing zeros dropped,
    exponent form when the exponent is below -4 or at least the precision.

    >>> go_g(5.2343, 4), go_g(999.6, 3), go_g(0.0, 3)
    ('5.234', '1e+03', '0')
    """
    precision = max(precision, 1)
    if value == 0.0:
        return "0"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    # Python's %e rounds the exact binary value correctly (ties to even), as
    # Go's strconv does; it gives the significant digits and the exponent.
    mantissa, exponent_text = ("%.*e" % (precision - 1, abs(value))).split("e")
    exponent = int(exponent_text)
    digits = "".join(c for c in mantissa if c.isdigit()).rstrip("0") or "0"
    count = len(digits)
    point = exponent + 1

    shown = precision
    if shown > count and count >= point:
        shown = count
    out = "-" if value < 0 else ""
    if exponent < -4 or exponent >= shown:
        kept = min(precision, count)
        out += digits[0]
        if kept > 1:
            out += "." + digits[1:kept]
        out += "e" + ("-" if exponent < 0 else "+") + "%02d" % abs(exponent)
    else:
        kept = count if precision > point else precision
        decimals = max(kept - point, 0)
        out += _fixed(digits, point, decimals)
    return out


def _fixed(digits: str, point: int, decimals: int) -> str:
    def digit_at(i: int) -> str:
        return digits[i] if 0 <= i < len(digits) else "0"

    out = "".join(digit_at(i) for i in range(point)) if point > 0 else "0"
    if decimals > 0:
        out += "." + "".join(digit_at(point + i) for i in range(decimals))
    return out
