//! The figures `docker stats` prints, computed with the docker CLI's own
//! arithmetic from the raw samples the host returns.

use crate::stats::{CpuReading, Measurement, Sample};
use crate::units;

/// What `docker stats` shows for one container.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    /// CPU use as a percentage of one CPU (a busy core is 100).
    pub cpu_percent: f64,
    /// Memory in use, page cache that can be reclaimed excluded.
    pub memory_used: f64,
    /// The container's memory limit (the host's memory when unlimited).
    pub memory_limit: f64,
    /// `memory_used` as a percentage of `memory_limit`.
    pub memory_percent: f64,
    /// Bytes received over all networks.
    pub network_rx: f64,
    /// Bytes sent over all networks.
    pub network_tx: f64,
    /// Bytes read from block devices.
    pub block_read: f64,
    /// Bytes written to block devices.
    pub block_write: f64,
    /// Processes and threads in the container.
    pub pids: u64,
}

impl Figures {
    /// Computes the figures for the current sample of a measurement, CPU
    /// measured against the previous sample.
    ///
    /// ```
    /// use sme_guest::stats::{CpuReading, Measurement, Sample};
    /// let previous = CpuReading { read_ns: 1, total_ns: 1_000, system_ns: 10_000, online_cpus: 2 };
    /// let cpu = CpuReading { read_ns: 2, total_ns: 6_000, system_ns: 20_000, online_cpus: 2 };
    /// let current = Sample {
    ///     cpu, memory_usage: 0, memory_limit: 0, total_inactive_file: None, inactive_file: None,
    ///     network_rx: 0, network_tx: 0, block_read: 0, block_write: 0, pids: 0,
    /// };
    /// let figures = sme_guest::Figures::of(&Measurement { previous: Some(previous), current });
    /// assert_eq!(figures.cpu_percent, 100.0); // 5 of 10 units over 2 CPUs: one busy core
    /// ```
    pub fn of(measurement: &Measurement) -> Figures {
        let current = &measurement.current;
        let memory_used = memory_used(current);
        let memory_limit = current.memory_limit as f64;
        Figures {
            cpu_percent: measurement
                .previous
                .as_ref()
                .map_or(0.0, |previous| cpu_percent(previous, &current.cpu)),
            memory_used,
            memory_limit,
            memory_percent: if memory_limit != 0.0 {
                memory_used / memory_limit * 100.0
            } else {
                0.0
            },
            network_rx: current.network_rx as f64,
            network_tx: current.network_tx as f64,
            block_read: current.block_read as f64,
            block_write: current.block_write as f64,
            pids: current.pids,
        }
    }

    /// What `docker stats` shows for several containers together (the
    /// tasks of a Swarm service): every column summed, and the memory
    /// percentage that of the summed use in the summed limit. No containers
    /// at all give the figures of a stopped one: zeros.
    ///
    /// ```
    /// use sme_guest::Figures;
    /// let task = |cpu_percent, memory_used| Figures {
    ///     cpu_percent, memory_used, memory_limit: 1000.0, memory_percent: 0.0,
    ///     network_rx: 1.0, network_tx: 2.0, block_read: 0.0, block_write: 0.0, pids: 3,
    /// };
    /// let total = Figures::sum(&[task(1.5, 100.0), task(2.5, 300.0)]);
    /// assert_eq!((total.cpu_percent, total.memory_used, total.pids), (4.0, 400.0, 6));
    /// assert_eq!(total.memory_percent, 20.0); // 400 of 2000
    /// assert_eq!(Figures::sum(&[]).raw().mem_usage, "0B / 0B");
    /// assert_eq!(Figures::sum(&[]).raw().cpu_perc, "0.00%");
    /// ```
    pub fn sum(figures: &[Figures]) -> Figures {
        // Folded from +0.0: `Sum` for floats starts at -0.0, which `docker
        // stats` arithmetic would print as `-0.00%` for no containers.
        let total =
            |column: fn(&Figures) -> f64| figures.iter().map(column).fold(0.0, |a, b| a + b);
        let memory_used = total(|f| f.memory_used);
        let memory_limit = total(|f| f.memory_limit);
        Figures {
            cpu_percent: total(|f| f.cpu_percent),
            memory_used,
            memory_limit,
            memory_percent: if memory_limit != 0.0 {
                memory_used / memory_limit * 100.0
            } else {
                0.0
            },
            network_rx: total(|f| f.network_rx),
            network_tx: total(|f| f.network_tx),
            block_read: total(|f| f.block_read),
            block_write: total(|f| f.block_write),
            pids: figures.iter().map(|f| f.pids).sum(),
        }
    }

    /// The six strings the reference executor put under `raw`, formatted as
    /// `docker stats` formats them.
    pub fn raw(&self) -> Raw {
        Raw {
            cpu_perc: units::percent(self.cpu_percent),
            mem_usage: format!(
                "{} / {}",
                units::bytes_binary(self.memory_used),
                units::bytes_binary(self.memory_limit)
            ),
            mem_perc: units::percent(self.memory_percent),
            net_io: format!(
                "{} / {}",
                units::bytes_decimal(self.network_rx),
                units::bytes_decimal(self.network_tx)
            ),
            block_io: format!(
                "{} / {}",
                units::bytes_decimal(self.block_read),
                units::bytes_decimal(self.block_write)
            ),
            pids: self.pids.to_string(),
        }
    }
}

/// The `docker stats` columns as text (the reference executor's `raw`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raw {
    /// `CPUPerc`, e.g. `5.08%`.
    pub cpu_perc: String,
    /// `MemUsage`, e.g. `5.234MiB / 1.952GiB`.
    pub mem_usage: String,
    /// `MemPerc`, e.g. `0.26%`.
    pub mem_perc: String,
    /// `NetIO`, e.g. `277kB / 194kB`.
    pub net_io: String,
    /// `BlockIO`, e.g. `8.19kB / 0B`.
    pub block_io: String,
    /// `PIDs`, e.g. `14`.
    pub pids: String,
}

impl Raw {
    /// The JSON object the reference executor printed, keys in the order of
    /// its `docker stats --format` template.
    pub fn to_json(&self) -> String {
        let fields = [
            ("cpu_perc", &self.cpu_perc),
            ("mem_usage", &self.mem_usage),
            ("mem_perc", &self.mem_perc),
            ("net_io", &self.net_io),
            ("block_io", &self.block_io),
            ("pids", &self.pids),
        ];
        let body: Vec<String> = fields
            .iter()
            .map(|(key, value)| format!("\"{key}\":{}", json_string(value)))
            .collect();
        format!("{{{}}}", body.join(","))
    }
}

/// CPU % between two samples: `cpu_delta / system_delta * online_cpus * 100`,
/// or 0 when either delta is not positive (docker's `calculateCPUPercentUnix`).
pub fn cpu_percent(previous: &CpuReading, current: &CpuReading) -> f64 {
    let cpu_delta = current.total_ns as f64 - previous.total_ns as f64;
    let system_delta = current.system_ns as f64 - previous.system_ns as f64;
    if cpu_delta > 0.0 && system_delta > 0.0 {
        cpu_delta / system_delta * f64::from(current.online_cpus) * 100.0
    } else {
        0.0
    }
}

/// Memory in use without reclaimable page cache: usage minus
/// `total_inactive_file` (cgroup v1) or `inactive_file` (v2) when that is
/// below usage (docker's `calculateMemUsageUnixNoCache`).
pub fn memory_used(sample: &Sample) -> f64 {
    let usage = sample.memory_usage;
    if let Some(inactive) = sample.total_inactive_file
        && inactive < usage
    {
        return (usage - inactive) as f64;
    }
    let inactive = sample.inactive_file.unwrap_or(0);
    if inactive < usage {
        (usage - inactive) as f64
    } else {
        usage as f64
    }
}

/// Quotes `text` as a JSON string.
pub(crate) fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(total_ns: u64, system_ns: u64) -> CpuReading {
        CpuReading {
            read_ns: 1,
            total_ns,
            system_ns,
            online_cpus: 2,
        }
    }

    fn sample() -> Sample {
        Sample {
            cpu: cpu(0, 0),
            memory_usage: 0,
            memory_limit: 0,
            total_inactive_file: None,
            inactive_file: None,
            network_rx: 0,
            network_tx: 0,
            block_read: 0,
            block_write: 0,
            pids: 0,
        }
    }

    #[test]
    fn cpu_is_zero_unless_both_deltas_are_positive() {
        let previous = cpu(100, 1_000);
        let idle = cpu(100, 2_000);
        let clock_went_back = cpu(200, 500);
        assert_eq!(cpu_percent(&previous, &idle), 0.0);
        assert_eq!(cpu_percent(&previous, &clock_went_back), 0.0);
    }

    #[test]
    fn memory_subtracts_inactive_file_like_docker() {
        let v1 = Sample {
            memory_usage: 1_000,
            total_inactive_file: Some(300),
            inactive_file: Some(100),
            ..sample()
        };
        assert_eq!(memory_used(&v1), 700.0);
        let v1_too_big = Sample {
            total_inactive_file: Some(5_000),
            ..v1
        };
        assert_eq!(memory_used(&v1_too_big), 900.0);
        let v2 = Sample {
            memory_usage: 1_000,
            inactive_file: Some(250),
            ..sample()
        };
        assert_eq!(memory_used(&v2), 750.0);
        let neither = Sample {
            memory_usage: 1_000,
            ..sample()
        };
        assert_eq!(memory_used(&neither), 1_000.0);
    }

    #[test]
    fn stopped_container_prints_docker_zeroes() {
        let figures = Figures::of(&Measurement {
            previous: None,
            current: sample(),
        });
        assert_eq!(
            figures.raw().to_json(),
            r#"{"cpu_perc":"0.00%","mem_usage":"0B / 0B","mem_perc":"0.00%","net_io":"0B / 0B","block_io":"0B / 0B","pids":"0"}"#
        );
    }

    #[test]
    fn raw_matches_the_reference_example() {
        let current = Sample {
            memory_usage: 5_488_247,
            memory_limit: 2_095_919_104,
            network_rx: 277_000,
            network_tx: 194_000,
            block_read: 8_192,
            pids: 14,
            ..sample()
        };
        let raw = Figures::of(&Measurement {
            previous: None,
            current,
        })
        .raw();
        assert_eq!(raw.mem_usage, "5.234MiB / 1.952GiB");
        assert_eq!(raw.mem_perc, "0.26%");
        assert_eq!(raw.net_io, "277kB / 194kB");
        assert_eq!(raw.block_io, "8.19kB / 0B");
        assert_eq!(raw.pids, "14");
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a\"b\\c\n"), r#""a\"b\\c\u000a""#);
    }
}
