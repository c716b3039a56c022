"""The figures ``docker stats`` prints, computed with the docker CLI's own
arithmetic from the raw samples the host returns (as the Rust SDK's
``sme_guest::figures`` does, byte for byte).

>>> from sme_guest.types import CpuReading, Measurement, Sample
>>> previous = CpuReading(1, 1_000, 10_000, 2)
>>> current = Sample(CpuReading(2, 6_000, 20_000, 2), 5_488_247, 2_095_919_104,
...                  None, None, 277_000, 194_000, 8_192, 0, 14)
>>> figures = Figures.of(Measurement(previous, current))
>>> figures.cpu_percent   # 5 of 10 units over 2 CPUs: one busy core
100.0
>>> figures.raw().to_json()
'{"cpu_perc":"100.00%","mem_usage":"5.234MiB / 1.952GiB","mem_perc":"0.26%","net_io":"277kB / 194kB","block_io":"8.19kB / 0B","pids":"14"}'
"""

from __future__ import annotations

from typing import List, Optional

from dataclasses import dataclass

from . import units
from .types import CpuReading, CpuTime, Measurement, Sample, UnitMeasurement, UnitStats


@dataclass
class Raw:
    """The ``docker stats`` columns as text (the reference executor's ``raw``)."""

    cpu_perc: str
    mem_usage: str
    mem_perc: str
    net_io: str
    block_io: str
    pids: str

    def to_json(self) -> str:
        """The JSON object the reference executor printed, keys in the order
        of its ``docker stats --format`` template."""
        keys = ["cpu_perc", "mem_usage", "mem_perc", "net_io", "block_io", "pids"]
        return "{" + ",".join(f'"{key}":{json_string(getattr(self, key))}' for key in keys) + "}"


@dataclass
class Figures:
    """What ``docker stats`` shows for one container."""

    #: CPU use as a percentage of one CPU (a busy core is 100).
    cpu_percent: float
    #: Memory in use, reclaimable page cache excluded.
    memory_used: float
    #: The container's memory limit (the host's memory when unlimited).
    memory_limit: float
    #: ``memory_used`` as a percentage of ``memory_limit``.
    memory_percent: float
    network_rx: float
    network_tx: float
    block_read: float
    block_write: float
    pids: int

    @staticmethod
    def sum(figures: "List[Figures]") -> "Figures":
        """The figures of several containers together (a Swarm service's tasks):
        CPU %, memory, I/O and PIDs added up, memory % of the summed limits; the
        zeros of a stopped container for none.

        >>> one = Figures(1.5, 100.0, 1000.0, 10.0, 1.0, 2.0, 3.0, 4.0, 1)
        >>> both = Figures.sum([one, one])
        >>> (both.cpu_percent, both.memory_used, both.memory_percent, both.pids)
        (3.0, 200.0, 10.0, 2)
        """
        used = float(sum(f.memory_used for f in figures))
        limit = float(sum(f.memory_limit for f in figures))
        return Figures(
            cpu_percent=float(sum(f.cpu_percent for f in figures)),
            memory_used=used,
            memory_limit=limit,
            memory_percent=used / limit * 100.0 if limit != 0.0 else 0.0,
            network_rx=float(sum(f.network_rx for f in figures)),
            network_tx=float(sum(f.network_tx for f in figures)),
            block_read=float(sum(f.block_read for f in figures)),
            block_write=float(sum(f.block_write for f in figures)),
            pids=sum(f.pids for f in figures),
        )

    @staticmethod
    def of(measurement: Measurement) -> "Figures":
        """The figures of the current sample, CPU measured against the previous reading."""
        current = measurement.current
        used = memory_used(current)
        limit = float(current.memory_limit)
        return Figures(
            cpu_percent=0.0
            if measurement.previous is None
            else cpu_percent(measurement.previous, current.cpu),
            memory_used=used,
            memory_limit=limit,
            memory_percent=used / limit * 100.0 if limit != 0.0 else 0.0,
            network_rx=float(current.network_rx),
            network_tx=float(current.network_tx),
            block_read=float(current.block_read),
            block_write=float(current.block_write),
            pids=current.pids,
        )

    @staticmethod
    def of_unit(measurement: UnitMeasurement) -> "Figures":
        """The figures of a systemd unit's counters (see :func:`unit_cpu_percent`);
        a figure systemd does not account is 0, and a unit has no memory limit
        (so no memory %).

        >>> from sme_guest.types import CpuTime, UnitMeasurement, UnitStats
        >>> now = UnitStats(2_000_000_000, cpu_ns=750_000_000, memory_bytes=1024, tasks=3)
        >>> figures = Figures.of_unit(UnitMeasurement(now, CpuTime(1_000_000_000, 500_000_000)))
        >>> (figures.cpu_percent, figures.memory_used, figures.memory_limit, figures.network_rx, figures.pids)
        (25.0, 1024.0, 0.0, 0.0, 3)
        """
        now = measurement.now
        return Figures(
            cpu_percent=unit_cpu_percent(measurement.previous, now),
            memory_used=float(now.memory_bytes or 0),
            memory_limit=0.0,
            memory_percent=0.0,
            network_rx=float(now.ip_ingress_bytes or 0),
            network_tx=float(now.ip_egress_bytes or 0),
            block_read=float(now.io_read_bytes or 0),
            block_write=float(now.io_write_bytes or 0),
            pids=now.tasks or 0,
        )

    def raw(self) -> Raw:
        """The six strings the reference executor put under ``raw``."""
        return Raw(
            cpu_perc=units.percent(self.cpu_percent),
            mem_usage=f"{units.bytes_binary(self.memory_used)} / {units.bytes_binary(self.memory_limit)}",
            mem_perc=units.percent(self.memory_percent),
            net_io=f"{units.bytes_decimal(self.network_rx)} / {units.bytes_decimal(self.network_tx)}",
            block_io=f"{units.bytes_decimal(self.block_read)} / {units.bytes_decimal(self.block_write)}",
            pids=str(self.pids),
        )


def cpu_percent(previous: CpuReading, current: CpuReading) -> float:
    """CPU % between two readings: ``cpu_delta / system_delta * online_cpus * 100``,
    or 0 when either delta is not positive (docker's ``calculateCPUPercentUnix``)."""
    cpu_delta = float(current.total_ns) - float(previous.total_ns)
    system_delta = float(current.system_ns) - float(previous.system_ns)
    if cpu_delta > 0.0 and system_delta > 0.0:
        return cpu_delta / system_delta * float(current.online_cpus) * 100.0
    return 0.0


def unit_cpu_percent(previous: Optional[CpuTime], now: UnitStats) -> float:
    """A unit's CPU % (of one CPU) between an earlier CPU time and now:
    ``cpu delta / time delta * 100``, or 0 when there is no earlier time, no
    CPU time now, or the time did not grow."""
    if previous is None or now.cpu_ns is None or now.read_ns <= previous.read_ns:
        return 0.0
    # The deltas in whole nanoseconds first: the times themselves are too
    # large for a float's 53 bits.
    return float(now.cpu_ns - previous.cpu_ns) / float(now.read_ns - previous.read_ns) * 100.0


def memory_used(sample: Sample) -> float:
    """Memory in use without reclaimable page cache: usage minus
    ``total_inactive_file`` (cgroup v1) or ``inactive_file`` (v2) when below
    usage (docker's ``calculateMemUsageUnixNoCache``)."""
    usage = sample.memory_usage
    if sample.total_inactive_file is not None and sample.total_inactive_file < usage:
        return float(usage - sample.total_inactive_file)
    inactive = sample.inactive_file or 0
    return float(usage - inactive) if inactive < usage else float(usage)


def json_string(text: str) -> str:
    """``text`` quoted as a JSON string, as the Rust SDK quotes it.

    >>> print(json_string('a"b'))
    "a\\"b"
    """
    out = ['"']
    for c in text:
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif ord(c) < 0x20:
            out.append("\\u%04x" % ord(c))
        else:
            out.append(c)
    out.append('"')
    return "".join(out)
