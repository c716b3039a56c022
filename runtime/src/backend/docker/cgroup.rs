//! A container's counters read where Docker's stats collector reads them:
//! its cgroup's files and its network namespace's `net/dev`, in
//! microseconds, instead of waiting for the collector's next round (it
//! samples every container once a second, and a request arriving during a
//! round waits for the next one).
//!
//! The cgroup is found from what `inspect` reports, never from a name a
//! module gave: the container's full ID and its `HostConfig.CgroupParent`,
//! under the daemon's two layouts (the `cgroupfs` driver: `<parent or
//! docker>/<id>`; the `systemd` driver: `<parent or system.slice>/docker-<id>.scope`),
//! on cgroup v1 (one hierarchy per controller) or v2 (one unified tree).
//! The figures are Docker's own: CPU time from `cpuacct.usage` (v1) or
//! `cpu.stat`'s `usage_usec` (v2); memory usage, its limit capped at the
//! host's memory as the daemon caps it, and the inactive file cache the
//! docker CLI subtracts; `pids.current`; block I/O summed over devices;
//! network bytes summed over the namespace's interfaces but `lo`.
//!
//! The host's CPU time (`system_ns`) is the wall clock times the online
//! CPUs, which is what `/proc/stat`'s total counts, without its 10 ms ticks:
//! CPU % from two reads a quarter of a second apart is then exact to the
//! nanosecond counters rather than to a tick in 50.

use std::path::{Path, PathBuf};

use crate::contract::{CpuReading, Sample};

/// Longest cgroup or proc file read: `memory.stat` is the longest, about
/// 1.5 KiB; `net/dev` grows by a line per interface.
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// Where the counters of one container are, once found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// cgroup v1: the container's directory in each controller's hierarchy,
    /// relative to the controller (`docker/<id>`).
    V1(PathBuf),
    /// cgroup v2: the container's directory in the unified tree.
    V2(PathBuf),
}

/// What a container's counters are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roots {
    /// The cgroup filesystem's mount point (`/sys/fs/cgroup`).
    pub cgroup: PathBuf,
    /// Where the host's process table is mounted (`/proc`), for the
    /// container's network namespace.
    pub proc: PathBuf,
}

impl Default for Roots {
    fn default() -> Roots {
        Roots {
            cgroup: PathBuf::from("/sys/fs/cgroup"),
            proc: PathBuf::from("/proc"),
        }
    }
}

/// A container as `inspect` reports it, for finding its counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject<'a> {
    /// The full container ID (64 hexadecimal digits).
    pub id: &'a str,
    /// `HostConfig.CgroupParent`, when set.
    pub parent: Option<&'a str>,
    /// `State.Pid`: its first process on the host, 0 when not running.
    pub pid: i64,
}

/// Counters read from the files, and whether the network's were among them.
#[derive(Debug, Clone, PartialEq)]
pub struct Read {
    /// The sample, in the Engine's terms.
    pub sample: Sample,
    /// Whether the network counters are in it (the container's network
    /// namespace was readable); 0 when not.
    pub network: bool,
}

impl Roots {
    /// Whether containers' cgroups can be seen here, and under which
    /// version (`cgroup v1`, `cgroup v2`): the daemon's parent cgroups of
    /// either driver exist.
    pub fn visible(&self) -> Option<&'static str> {
        let parents = ["docker", "system.slice"];
        if parents
            .iter()
            .any(|parent| self.cgroup.join("cpuacct").join(parent).is_dir())
        {
            return Some("cgroup v1");
        }
        let unified = self.cgroup.join("cgroup.controllers").is_file();
        let docker = parents
            .iter()
            .any(|parent| self.cgroup.join(parent).is_dir());
        (unified && docker).then_some("cgroup v2")
    }

    /// Where `subject`'s counters are, if its cgroup can be seen here.
    pub fn find(&self, subject: &Subject<'_>) -> Option<Layout> {
        if !is_full_id(subject.id) {
            return None;
        }
        let id = subject.id;
        let parent = subject.parent.filter(|p| !p.is_empty());
        if parent.is_some_and(|p| !is_safe_parent(p)) {
            return None;
        }
        // A systemd parent is a slice (`x.slice`); cgroupfs takes a path.
        let mut candidates = Vec::new();
        match parent {
            Some(slice) if slice.ends_with(".slice") => {
                candidates.push(PathBuf::from(slice).join(format!("docker-{id}.scope")));
            }
            Some(path) => candidates.push(PathBuf::from(path.trim_start_matches('/')).join(id)),
            None => {
                candidates.push(PathBuf::from("docker").join(id));
                candidates.push(PathBuf::from("system.slice").join(format!("docker-{id}.scope")));
            }
        }
        for relative in candidates {
            if self
                .cgroup
                .join("cpuacct")
                .join(&relative)
                .join("cpuacct.usage")
                .is_file()
            {
                return Some(Layout::V1(relative));
            }
            if self.cgroup.join(&relative).join("cpu.stat").is_file() {
                return Some(Layout::V2(relative));
            }
        }
        None
    }

    /// Reads the counters of `subject` under `layout` at `read_ns` (the
    /// time of the read, in nanoseconds since the epoch). `None` when a
    /// file the figures need cannot be read.
    pub fn read(&self, layout: &Layout, subject: &Subject<'_>, read_ns: u64) -> Option<Read> {
        let host = Host::read()?;
        let mut sample = match layout {
            Layout::V1(relative) => self.read_v1(relative)?,
            Layout::V2(relative) => read_v2(&self.cgroup.join(relative))?,
        };
        sample.memory_limit = sample.memory_limit.min(host.memory);
        sample.cpu.read_ns = read_ns;
        sample.cpu.online_cpus = host.cpus;
        sample.cpu.system_ns = read_ns.saturating_mul(u64::from(host.cpus));
        let network = self.network(subject);
        if let Some((rx, tx)) = network {
            sample.network_rx = rx;
            sample.network_tx = tx;
        }
        Some(Read {
            sample,
            network: network.is_some(),
        })
    }

    /// The network counters of `subject`'s namespace, read through its
    /// first process, if that process can be seen under the proc root and is
    /// the container's: its cgroups name the container's ID. A proc root that
    /// is not the host's (this container's own `/proc`, where the host's PID
    /// may be some other process) never answers for it.
    fn network(&self, subject: &Subject<'_>) -> Option<(u64, u64)> {
        if subject.pid <= 0 || !is_full_id(subject.id) {
            return None;
        }
        let process = self.proc.join(subject.pid.to_string());
        let cgroups = read_text(&process.join("cgroup"))?;
        if !cgroups.contains(subject.id) {
            return None;
        }
        net_dev(&read_text(&process.join("net/dev"))?)
    }

    fn read_v1(&self, relative: &Path) -> Option<Sample> {
        let file = |controller: &str, name: &str| {
            read_text(&self.cgroup.join(controller).join(relative).join(name))
        };
        let number = |controller: &str, name: &str| file(controller, name)?.trim().parse().ok();
        let stat = file("memory", "memory.stat")?;
        let (block_read, block_write) = file("blkio", "blkio.io_service_bytes_recursive")
            .filter(|text| blkio_v1(text) != Some((0, 0)))
            .or_else(|| file("blkio", "blkio.throttle.io_service_bytes_recursive"))
            .and_then(|text| blkio_v1(&text))
            .unwrap_or((0, 0));
        Some(Sample {
            cpu: CpuReading {
                read_ns: 0,
                total_ns: number("cpuacct", "cpuacct.usage")?,
                system_ns: 0,
                online_cpus: 0,
            },
            memory_usage: number("memory", "memory.usage_in_bytes")?,
            memory_limit: number("memory", "memory.limit_in_bytes")?,
            total_inactive_file: keyed(&stat, "total_inactive_file"),
            inactive_file: keyed(&stat, "inactive_file"),
            network_rx: 0,
            network_tx: 0,
            block_read,
            block_write,
            pids: number("pids", "pids.current").unwrap_or(0),
        })
    }
}

/// cgroup v2's files, in the container's directory `dir`.
fn read_v2(dir: &Path) -> Option<Sample> {
    let file = |name: &str| read_text(&dir.join(name));
    let cpu_usec = keyed(&file("cpu.stat")?, "usage_usec")?;
    let stat = file("memory.stat")?;
    let limit = match file("memory.max")?.trim() {
        "max" => u64::MAX,
        value => value.parse().ok()?,
    };
    let (block_read, block_write) = file("io.stat").map_or((0, 0), |text| io_stat_v2(&text));
    Some(Sample {
        cpu: CpuReading {
            read_ns: 0,
            total_ns: cpu_usec.saturating_mul(1000),
            system_ns: 0,
            online_cpus: 0,
        },
        memory_usage: file("memory.current")?.trim().parse().ok()?,
        memory_limit: limit,
        total_inactive_file: None,
        inactive_file: keyed(&stat, "inactive_file"),
        network_rx: 0,
        network_tx: 0,
        block_read,
        block_write,
        pids: file("pids.current")
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0),
    })
}

/// What the host has: its online CPUs and its memory.
struct Host {
    cpus: u32,
    memory: u64,
}

impl Host {
    /// Read from this process's own `/proc`: the host's, in a container too.
    fn read() -> Option<Host> {
        let stat = read_text(Path::new("/proc/stat"))?;
        let meminfo = read_text(Path::new("/proc/meminfo"))?;
        Some(Host {
            cpus: online_cpus(&stat)?,
            memory: keyed(&meminfo, "MemTotal:")?.saturating_mul(1024),
        })
    }
}

fn read_text(path: &Path) -> Option<String> {
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_FILE_BYTES)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

/// The number after `key` on the line that starts with it (`memory.stat`,
/// `cpu.stat`, `/proc/meminfo`).
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next()? == key).then(|| words.next()?.parse().ok())?
    })
}

/// The CPUs `/proc/stat` lists one by one (`cpu0`, `cpu1`...).
fn online_cpus(stat: &str) -> Option<u32> {
    let cpus = stat
        .lines()
        .filter(|line| {
            line.strip_prefix("cpu")
                .and_then(|rest| rest.split(char::is_whitespace).next())
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .count();
    u32::try_from(cpus).ok().filter(|&n| n > 0)
}

/// cgroup v1's `blkio.*io_service_bytes_recursive`: `<major>:<minor> Read
/// <bytes>` lines (and `Write`, `Sync`...), summed over devices.
fn blkio_v1(text: &str) -> Option<(u64, u64)> {
    let mut totals = (0u64, 0u64);
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let [_, op, value] = words[..] {
            let value: u64 = value.parse().ok()?;
            match op {
                "Read" => totals.0 = totals.0.saturating_add(value),
                "Write" => totals.1 = totals.1.saturating_add(value),
                _ => {}
            }
        }
    }
    Some(totals)
}

/// cgroup v2's `io.stat`: `<major>:<minor> rbytes=N wbytes=N ...` lines.
fn io_stat_v2(text: &str) -> (u64, u64) {
    let mut totals = (0u64, 0u64);
    for field in text.split_whitespace() {
        let Some((key, value)) = field.split_once('=') else {
            continue;
        };
        let value: u64 = value.parse().unwrap_or(0);
        match key {
            "rbytes" => totals.0 = totals.0.saturating_add(value),
            "wbytes" => totals.1 = totals.1.saturating_add(value),
            _ => {}
        }
    }
    totals
}

/// `/proc/<pid>/net/dev`: bytes received and sent over every interface of
/// the namespace but the loopback, as Docker counts a container's networks.
fn net_dev(text: &str) -> Option<(u64, u64)> {
    let mut totals = (0u64, 0u64);
    // Two header lines, then `iface: rx_bytes packets ... tx_bytes ...`.
    for line in text.lines().skip(2) {
        let (name, counters) = line.split_once(':')?;
        if name.trim() == "lo" {
            continue;
        }
        let fields: Vec<u64> = counters
            .split_whitespace()
            .map(|f| f.parse().ok())
            .collect::<Option<_>>()?;
        let (rx, tx) = (*fields.first()?, *fields.get(8)?);
        totals = (totals.0.saturating_add(rx), totals.1.saturating_add(tx));
    }
    Some(totals)
}

/// A full container ID: 64 lowercase hexadecimal digits, nothing a path
/// could be built from otherwise.
fn is_full_id(id: &str) -> bool {
    id.len() == 64
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A cgroup parent that stays below the cgroup root: plain path segments.
fn is_safe_parent(parent: &str) -> bool {
    parent.split('/').filter(|s| !s.is_empty()).all(|segment| {
        segment != ".."
            && segment != "."
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'@'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4303bb471ef2a153a54870031c84c53edd184eb99a07a5916cde05ca2026449b";

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(name), text).unwrap();
    }

    /// Roots under `root`, and a container with no parent and no process.
    fn under(root: &Path) -> (Roots, Subject<'static>) {
        let roots = Roots {
            cgroup: root.to_path_buf(),
            proc: root.join("proc"),
        };
        let subject = Subject {
            id: ID,
            parent: None,
            pid: 0,
        };
        (roots, subject)
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sme-cgroup-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn cgroup_v1_files_read_as_docker_reads_them() {
        let root = scratch("v1");
        let at = |controller: &str| root.join(controller).join("docker").join(ID);
        write(&at("cpuacct"), "cpuacct.usage", "123456789\n");
        write(&at("memory"), "memory.usage_in_bytes", "10485760\n");
        write(
            &at("memory"),
            "memory.limit_in_bytes",
            "9223372036854771712\n",
        );
        write(
            &at("memory"),
            "memory.stat",
            "cache 4096\ninactive_file 1024\ntotal_inactive_file 2048\n",
        );
        write(&at("pids"), "pids.current", "7\n");
        write(
            &at("blkio"),
            "blkio.io_service_bytes_recursive",
            "Total 0\n",
        );
        write(
            &at("blkio"),
            "blkio.throttle.io_service_bytes_recursive",
            "8:0 Read 100\n8:0 Write 30\n8:0 Sync 130\n8:16 Read 5\nTotal 135\n",
        );
        let (roots, subject) = under(&root);
        let layout = roots.find(&subject).unwrap();
        assert_eq!(layout, Layout::V1(PathBuf::from("docker").join(ID)));
        let read = roots.read(&layout, &subject, 5_000_000_000).unwrap();
        let s = read.sample;
        assert_eq!(s.cpu.total_ns, 123_456_789);
        assert_eq!(s.cpu.read_ns, 5_000_000_000);
        assert_eq!(
            s.cpu.system_ns,
            5_000_000_000 * u64::from(s.cpu.online_cpus)
        );
        assert_eq!(s.memory_usage, 10_485_760);
        assert!(
            s.memory_limit < 9_223_372_036_854_771_712,
            "capped at the host's"
        );
        assert_eq!(
            (s.total_inactive_file, s.inactive_file),
            (Some(2048), Some(1024))
        );
        assert_eq!((s.block_read, s.block_write, s.pids), (105, 30, 7));
        assert!(!read.network);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn cgroup_v2_files_in_their_documented_formats() {
        let root = scratch("v2");
        let dir = root.join("system.slice").join(format!("docker-{ID}.scope"));
        write(
            &dir,
            "cpu.stat",
            "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n",
        );
        write(&dir, "memory.current", "4096\n");
        write(&dir, "memory.max", "max\n");
        write(
            &dir,
            "memory.stat",
            "anon 100\nfile 300\ninactive_file 200\n",
        );
        write(&dir, "pids.current", "3\n");
        write(
            &dir,
            "io.stat",
            "8:0 rbytes=1000 wbytes=20 rios=3 wios=1 dbytes=0 dios=0\n8:16 rbytes=1 wbytes=2\n",
        );
        let (roots, subject) = under(&root);
        let layout = roots.find(&subject).unwrap();
        assert!(matches!(layout, Layout::V2(_)));
        let s = roots.read(&layout, &subject, 1).unwrap().sample;
        assert_eq!(s.cpu.total_ns, 2_500_000);
        assert_eq!((s.memory_usage, s.inactive_file), (4096, Some(200)));
        assert_eq!(s.total_inactive_file, None);
        assert_eq!((s.block_read, s.block_write, s.pids), (1001, 22, 3));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn network_bytes_leave_out_the_loopback() {
        let text = "Inter-|   Receive                                                |  Transmit\n \
                    face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
                    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n  \
                    eth0:    5000      10    0    0    0     0          0         0     3000       8    0    0    0     0       0          0\n  \
                    eth1:       7       1    0    0    0     0          0         0        9       1    0    0    0     0       0          0\n";
        assert_eq!(net_dev(text), Some((5007, 3009)));
    }

    #[test]
    fn network_counters_come_only_from_the_containers_own_process() {
        let root = scratch("net");
        let (roots, mut subject) = under(&root);
        subject.pid = 4242;
        let process = roots.proc.join("4242");
        let dev = "h\nh\n  eth0: 10 1 0 0 0 0 0 0 20 1 0 0 0 0 0 0\n";
        write(&process.join("net"), "dev", dev);
        // Another process with that PID (a proc root that is not the
        // host's): its namespace is not the container's.
        write(&process, "cgroup", "4:cpuacct:/docker/someoneelse\n");
        assert_eq!(roots.network(&subject), None);
        write(&process, "cgroup", &format!("4:cpuacct:/docker/{ID}\n"));
        assert_eq!(roots.network(&subject), Some((10, 20)));
        subject.pid = 0;
        assert_eq!(roots.network(&subject), None);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn nothing_but_a_full_id_and_a_plain_parent_makes_a_path() {
        let roots = Roots::default();
        for id in ["web", "../../etc", &ID[..12], &ID.to_uppercase()] {
            let subject = Subject {
                id,
                parent: None,
                pid: 1,
            };
            assert_eq!(roots.find(&subject), None, "{id}");
        }
        assert!(is_safe_parent("/my/parent"));
        assert!(is_safe_parent("machine.slice"));
        assert!(!is_safe_parent("../escape"));
        assert!(!is_safe_parent("a/./b"));
    }

    #[test]
    fn online_cpus_are_the_numbered_lines() {
        let stat = "cpu  1 2 3 4\ncpu0 1 1 1 1\ncpu1 1 1 1 1\nintr 5\nctxt 9\n";
        assert_eq!(online_cpus(stat), Some(2));
        assert_eq!(online_cpus("intr 5\n"), None);
    }
}
