//! CPU readings kept between runs, so `stats.recent` can answer from one
//! one-shot sample instead of waiting for the daemon's next collection.
//!
//! CPU % is a rate: it needs an earlier reading. Docker's own answer uses a
//! reading about one second old, which is why `docker stats --no-stream`
//! takes a second or two. Here each run leaves its reading behind, in one
//! small file per container ID (`<state_dir>/cpu/<id>`), and the next run
//! measures against the newest kept reading that is at least [`WINDOW`] old.
//! Files are bounded ([`MAX_READINGS`] lines, [`MAX_CONTAINERS`] files),
//! replaced atomically, and a lost race only loses one reading.

use std::path::Path;
use std::time::Duration;

use crate::contract::CpuReading;
use crate::fs::private_dir::PrivateDir;

/// The window docker measures over; preferred when a reading that old exists.
pub const WINDOW: Duration = Duration::from_secs(1);
/// The shortest usable window: host CPU time ticks at 10 ms per CPU, so
/// shorter windows are too coarse to trust.
pub const MIN_WINDOW: Duration = Duration::from_millis(200);
/// The longest window a policy may ask for (`cpu-window.recent-within`), and
/// how long readings are kept.
pub const MAX_AGE: Duration = Duration::from_secs(120);
/// The oldest reading `stats.recent` (and the default metrics policy, unless
/// its `cpu_window_ms` setting says otherwise) measures against. A figure
/// averaged over a longer window hides what happened since: 8 s after a
/// burst of CPU ended, a two-minute window still showed a third of it while
/// `docker stats` showed 0. Five seconds keeps agents that poll every few
/// seconds on the fast path and a finished burst out of the figure.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(5);
/// Kept readings are at least this far apart, so frequent runs keep a spread.
pub const SPACING: Duration = Duration::from_millis(250);
/// Readings kept per container.
pub const MAX_READINGS: usize = 8;
/// Containers with kept readings; the least recently measured go first.
pub const MAX_CONTAINERS: usize = 256;
/// Longest readings file read back: [`MAX_READINGS`] lines of four numbers.
const MAX_FILE_BYTES: u64 = 4096;

/// Where readings are kept.
#[derive(Debug)]
pub struct History {
    dir: PrivateDir,
}

impl History {
    /// Uses `<state_dir>/cpu`, if it is (or can be made) private: the
    /// readings of the Docker Engine's stats API.
    pub fn open(state_dir: &Path) -> Option<History> {
        PrivateDir::open(&state_dir.join("cpu")).map(|dir| History { dir })
    }

    /// Uses `<state_dir>/cgroup`: readings of containers' cgroup files,
    /// kept apart so that CPU % is never computed across two sources.
    pub fn open_cgroup(state_dir: &Path) -> Option<History> {
        PrivateDir::open(&state_dir.join("cgroup")).map(|dir| History { dir })
    }

    /// Uses `<state_dir>/network`: the last network counters read of each
    /// container, from either source (they count the same bytes), for runs
    /// that cannot read them.
    pub fn open_network(state_dir: &Path) -> Option<History> {
        PrivateDir::open(&state_dir.join("network")).map(|dir| History { dir })
    }

    /// Uses `<state_dir>/units`: CPU times of systemd units, each kept as
    /// a [`CpuReading`] whose `total_ns` is the unit's `CPUUsageNSec` and
    /// whose `system_ns` is the wall clock, under the name [`unit_key`]
    /// gives the unit.
    pub fn open_units(state_dir: &Path) -> Option<History> {
        PrivateDir::open(&state_dir.join("units")).map(|dir| History { dir })
    }

    /// The network counters kept for container `id`, if any.
    pub fn load_network(&self, id: &str) -> Option<Network> {
        if !is_container_id(id) {
            return None;
        }
        let bytes = self.dir.read(id, MAX_FILE_BYTES)?;
        let text = String::from_utf8_lossy(&bytes);
        let mut fields = text.split_ascii_whitespace().map(str::parse::<u64>);
        let network = Network {
            read_ns: fields.next()?.ok()?,
            rx: fields.next()?.ok()?,
            tx: fields.next()?.ok()?,
        };
        fields.next().is_none().then_some(network)
    }

    /// Keeps `network` as container `id`'s last network counters.
    pub fn save_network(&self, id: &str, network: &Network) {
        let text = format!("{} {} {}\n", network.read_ns, network.rx, network.tx);
        self.replace(id, &text);
    }

    /// The readings kept for container `id` (none if unreadable).
    pub fn load(&self, id: &str) -> Readings {
        if !is_container_id(id) {
            return Readings::default();
        }
        let bytes = self.dir.read(id, MAX_FILE_BYTES).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        Readings(text.lines().filter_map(parse_line).collect())
    }

    /// Replaces the readings kept for container `id`. Failures only lose
    /// speed on the next run, so they are logged, not raised.
    pub fn save(&self, id: &str, readings: &Readings) {
        let text: String = readings
            .0
            .iter()
            .map(|r| {
                format!(
                    "{} {} {} {}\n",
                    r.read_ns, r.total_ns, r.system_ns, r.online_cpus
                )
            })
            .collect();
        self.replace(id, &text);
    }

    /// Replaces the file of container `id`, then evicts the oldest files if
    /// it is a new one.
    fn replace(&self, id: &str, text: &str) {
        if !is_container_id(id) {
            return;
        }
        let is_new = !self.dir.contains(id);
        if let Err(error) = self.dir.write(id, text.as_bytes()) {
            tracing::debug!(%error, "could not keep the reading");
        }
        if is_new {
            self.evict();
        }
    }

    /// Removes the least recently written files beyond [`MAX_CONTAINERS`].
    fn evict(&self) {
        // Only files SME named (container IDs) are counted or removed.
        let mut files: Vec<_> = self
            .dir
            .names()
            .into_iter()
            .filter(|name| is_container_id(name))
            .filter_map(|name| Some((self.dir.modified(&name)?, name)))
            .collect();
        if files.len() <= MAX_CONTAINERS {
            return;
        }
        files.sort();
        for (_, name) in &files[..files.len() - MAX_CONTAINERS] {
            let _ = self.dir.remove(name);
        }
    }
}

/// The file name a unit's readings are kept under: its name's SHA-256, in
/// hex, the shape of a container ID (so a name never becomes a path).
pub fn unit_key(unit: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(unit.as_bytes()))
}

fn is_container_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

fn parse_line(line: &str) -> Option<CpuReading> {
    let mut fields = line.split_ascii_whitespace().map(str::parse::<u64>);
    let reading = CpuReading {
        read_ns: fields.next()?.ok()?,
        total_ns: fields.next()?.ok()?,
        system_ns: fields.next()?.ok()?,
        online_cpus: u32::try_from(fields.next()?.ok()?).ok()?,
    };
    fields.next().is_none().then_some(reading)
}

/// Network counters of one container as last read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    /// When they were read, in nanoseconds since the epoch.
    pub read_ns: u64,
    /// Bytes received.
    pub rx: u64,
    /// Bytes sent.
    pub tx: u64,
}

/// The kept readings of one container, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Readings(Vec<CpuReading>);

impl Readings {
    /// The reading to measure `current` against: the newest one at least
    /// [`WINDOW`] older, else the oldest at least [`MIN_WINDOW`] older; never
    /// one older than `max_age` (at most [`MAX_AGE`]) or from before the
    /// container's counters last reset (a restart).
    pub fn baseline_for(&self, current: &CpuReading, max_age: Duration) -> Option<CpuReading> {
        let max_age = max_age.min(MAX_AGE);
        let usable = |r: &&CpuReading| {
            let age = age(r, current);
            age >= MIN_WINDOW
                && age <= max_age
                && r.total_ns <= current.total_ns
                && r.system_ns < current.system_ns
        };
        let candidates: Vec<&CpuReading> = self.0.iter().filter(usable).collect();
        candidates
            .iter()
            .rev()
            .find(|r| age(r, current) >= WINDOW)
            .or_else(|| candidates.first())
            .map(|r| **r)
    }

    /// Whether a reading taken at `now_ns` could be measured against a kept
    /// one (by age alone; [`Readings::baseline_for`] decides with the real
    /// reading). When not, the caller measures the slow way straight away
    /// instead of taking a sample it cannot use.
    pub fn could_serve(&self, now_ns: u64, max_age: Duration) -> bool {
        let max_age = max_age.min(MAX_AGE);
        self.0.iter().any(|r| {
            let age = Duration::from_nanos(now_ns.saturating_sub(r.read_ns));
            age >= MIN_WINDOW && age <= max_age
        })
    }

    /// Keeps `reading` unless it is within [`SPACING`] of the newest kept
    /// one; forgets readings that are too old, from before a counter reset,
    /// or beyond [`MAX_READINGS`].
    pub fn remember(&mut self, reading: &CpuReading) {
        self.0.retain(|r| {
            r.read_ns < reading.read_ns
                && r.total_ns <= reading.total_ns
                && age(r, reading) <= MAX_AGE
        });
        let spaced = self
            .0
            .last()
            .is_none_or(|newest| age(newest, reading) >= SPACING);
        if spaced {
            self.0.push(*reading);
        }
        let excess = self.0.len().saturating_sub(MAX_READINGS);
        self.0.drain(..excess);
    }
}

fn age(earlier: &CpuReading, later: &CpuReading) -> Duration {
    Duration::from_nanos(later.read_ns.saturating_sub(earlier.read_ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn at(ms: u64, total_ns: u64) -> CpuReading {
        CpuReading {
            read_ns: 1_000_000 * MS + ms * MS,
            total_ns,
            system_ns: 10_000 + ms * MS,
            online_cpus: 2,
        }
    }

    fn kept(readings: &[CpuReading]) -> Readings {
        Readings(readings.to_vec())
    }

    #[test]
    fn prefers_the_newest_reading_a_window_old() {
        let readings = kept(&[at(0, 1), at(500, 2), at(1000, 3), at(1800, 4)]);
        assert_eq!(
            readings.baseline_for(&at(2100, 5), MAX_AGE),
            Some(at(1000, 3))
        );
    }

    #[test]
    fn a_bounded_window_skips_readings_from_before_a_burst_ended() {
        // Kept before a burst; 8 s after it ended the two-minute window
        // would average it in, the default window refuses that reading.
        let readings = kept(&[at(0, 1)]);
        let now = at(30_000, 15_000 * MS);
        assert_eq!(readings.baseline_for(&now, MAX_AGE), Some(at(0, 1)));
        assert_eq!(readings.baseline_for(&now, DEFAULT_MAX_AGE), None);
        let recent = kept(&[at(0, 1), at(27_000, 15_000 * MS)]);
        assert_eq!(
            recent.baseline_for(&now, DEFAULT_MAX_AGE),
            Some(at(27_000, 15_000 * MS))
        );
        assert_eq!(
            readings.baseline_for(&now, Duration::from_secs(600)),
            Some(at(0, 1)),
            "capped at MAX_AGE, which still covers it"
        );
    }

    #[test]
    fn falls_back_to_a_shorter_window() {
        let readings = kept(&[at(0, 1), at(100, 2)]);
        assert_eq!(readings.baseline_for(&at(400, 5), MAX_AGE), Some(at(0, 1)));
        assert_eq!(
            readings.baseline_for(&at(150, 5), MAX_AGE),
            None,
            "too short a window"
        );
    }

    #[test]
    fn ignores_stale_and_reset_readings() {
        let stale = kept(&[at(0, 1)]);
        assert_eq!(stale.baseline_for(&at(121_000, 5), MAX_AGE), None);
        let restarted = kept(&[at(0, 900)]);
        assert_eq!(restarted.baseline_for(&at(2000, 5), MAX_AGE), None);
    }

    #[test]
    fn knows_when_no_kept_reading_can_serve() {
        let readings = kept(&[at(0, 1)]);
        assert!(readings.could_serve(at(500, 0).read_ns, MAX_AGE));
        assert!(
            !readings.could_serve(at(100, 0).read_ns, MAX_AGE),
            "too recent"
        );
        assert!(
            !readings.could_serve(at(200_000, 0).read_ns, MAX_AGE),
            "too old"
        );
        assert!(!Readings::default().could_serve(at(500, 0).read_ns, MAX_AGE));
        assert!(readings.could_serve(at(4_000, 0).read_ns, DEFAULT_MAX_AGE));
        assert!(!readings.could_serve(at(6_000, 0).read_ns, DEFAULT_MAX_AGE));
    }

    #[test]
    fn remembers_spaced_readings_within_bounds() {
        let mut readings = Readings::default();
        for ms in (0..10_000).step_by(100) {
            readings.remember(&at(ms, ms));
        }
        assert_eq!(readings.0.len(), MAX_READINGS);
        let spacing = readings
            .0
            .windows(2)
            .map(|w| age(&w[0], &w[1]))
            .min()
            .unwrap();
        assert!(spacing >= SPACING);
        readings.remember(&at(20_000, 0));
        assert_eq!(
            readings.0,
            vec![at(20_000, 0)],
            "a counter reset forgets the past"
        );
    }

    #[test]
    fn round_trips_through_files() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/trusted-tests")
            .join(format!("history-{}", std::process::id()));
        let history = History::open(&dir).unwrap();
        let id = "a".repeat(64);
        let readings = kept(&[at(0, 1), at(1000, 2)]);
        history.save(&id, &readings);
        assert_eq!(history.load(&id), readings);
        assert_eq!(history.load("../../etc/passwd"), Readings::default());

        let network = History::open_network(&dir).unwrap();
        assert_eq!(network.load_network(&id), None);
        let last = Network {
            read_ns: 7,
            rx: 8,
            tx: 9,
        };
        network.save_network(&id, &last);
        assert_eq!(network.load_network(&id), Some(last));
        network.save_network("../x", &last);
        assert_eq!(network.load_network("../x"), None);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
