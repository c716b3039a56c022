//! Test support: real containers and Swarm services from the local busybox
//! image, and the real `sme` and `smectl` binaries run in a private sandbox
//! of directories.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// The image built by `scripts/test-image`, built once per test run.
pub fn image() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/test-image");
        let output = Command::new(&script)
            .output()
            .expect("running scripts/test-image");
        assert!(
            output.status.success(),
            "scripts/test-image failed: {output:?}"
        );
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    })
}

/// A built Python example (`target/python-policies/<name>.wasm`), or a
/// clear failure naming the step that builds it.
pub fn python_policy(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/python-policies")
        .join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "{} is missing: run `scripts/setup && scripts/python-policy build-examples` \
         (scripts/test does) before these tests",
        path.display()
    );
    path
}

/// A name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "sme-test-{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `docker` with `args`, expecting success, and returns its stdout.
pub fn docker(args: &[&str]) -> String {
    let output = Command::new("docker")
        .args(args)
        .output()
        .expect("running docker");
    assert!(
        output.status.success(),
        "docker {args:?} failed: {output:?}"
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// A container that is removed when dropped.
#[derive(Debug)]
pub struct Container {
    pub name: String,
}

impl Container {
    /// A running container named after `prefix`.
    pub fn running(prefix: &str) -> Container {
        Container::with_args(prefix, &[])
    }

    /// A running container with extra `docker run` arguments (labels, health checks...).
    pub fn with_args(prefix: &str, extra: &[&str]) -> Container {
        let container = Container::created_with(prefix, extra);
        docker(&["start", &container.name]);
        container.wait_ready();
        container
    }

    /// A running container with exactly this name.
    pub fn named(name: &str, extra: &[&str]) -> Container {
        let mut args = vec!["create", "--name", name];
        args.extend_from_slice(extra);
        args.push(image());
        docker(&args);
        let container = Container {
            name: name.to_owned(),
        };
        docker(&["start", name]);
        container.wait_ready();
        container
    }

    /// A container that was created but never started.
    pub fn created(prefix: &str) -> Container {
        Container::created_with(prefix, &[])
    }

    /// A container that ran and was stopped.
    pub fn stopped(prefix: &str) -> Container {
        let container = Container::running(prefix);
        docker(&["stop", &container.name]);
        container
    }

    /// A container created with extra `docker create` arguments, not started.
    pub fn created_with(prefix: &str, extra: &[&str]) -> Container {
        let name = unique(prefix);
        let mut args = vec!["create", "--name", &name];
        args.extend_from_slice(extra);
        args.push(image());
        docker(&args);
        Container { name }
    }

    /// Waits until the container's shell has set its SIGTERM trap.
    pub fn wait_ready(&self) {
        self.wait_for_ready_lines(1);
    }

    /// Starts the container again and waits until its shell has set its
    /// SIGTERM trap anew: its log keeps the earlier runs' `ready` lines, so
    /// [`Container::wait_ready`] would return before the trap is set and a
    /// stop would wait out the whole grace period.
    pub fn start_again(&self) {
        let before = self.ready_lines();
        docker(&["start", &self.name]);
        self.wait_for_ready_lines(before + 1);
    }

    fn ready_lines(&self) -> usize {
        docker(&["logs", &self.name]).matches("ready").count()
    }

    pub fn wait_for_ready_lines(&self, lines: usize) {
        let started = Instant::now();
        while self.ready_lines() < lines {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{} never got ready",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Docker's `State.Status` (`running`, `exited`, `paused`...).
    pub fn status(&self) -> String {
        docker(&["inspect", "-f", "{{.State.Status}}", &self.name])
    }

    /// Docker's `State.Running`.
    pub fn is_running(&self) -> bool {
        docker(&["inspect", "-f", "{{.State.Running}}", &self.name]) == "true"
    }

    /// When the container last started (changes on every start or restart).
    pub fn started_at(&self) -> String {
        docker(&["inspect", "-f", "{{.State.StartedAt}}", &self.name])
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.name])
            .output();
    }
}

/// The longest sandbox base directory that leaves room for a socket path
/// (108 bytes with its terminator) under it.
const MAX_SANDBOXES_PATH: usize = 48;

/// Where sandboxes are made: a directory whose whole path SME trusts (not
/// `/tmp`, whose other users could change what is in it). Files are created
/// with umask 022, so that nothing a test writes is group-writable.
pub fn sandboxes() -> &'static Path {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
        // Sockets live in sandboxes (a fault proxy's, systemd's bus), and a
        // socket's path must stay under 108 bytes: a deep target directory
        // (the static build's, target/<triple>/tmp) gives way to a short
        // one other users can still traverse (a test runs `sme` as the
        // agent's user), made by root.
        let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sandboxes");
        let short = target.as_os_str().len() <= MAX_SANDBOXES_PATH;
        let candidates = [
            short.then_some(target.clone()),
            Some(PathBuf::from("/run/sme-tests")),
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/sme-tests")),
            Some(target),
        ];
        let strict = sme::fs::trusted::Strictness::Strict;
        candidates
            .into_iter()
            .flatten()
            .find(|dir| sme::fs::trusted::TrustedDir::create(dir, 0o755, strict).is_ok())
            .expect("no directory with a trusted path for test sandboxes")
    })
}

/// A private set of directories and settings for running `sme`/`smectl`.
#[derive(Debug)]
pub struct Sandbox {
    pub root: PathBuf,
    pub envs: Vec<(String, String)>,
}

impl Sandbox {
    /// An empty configuration, an empty policy directory, private cache and
    /// state directories, and an audit log.
    pub fn new() -> Sandbox {
        let root = sandboxes().join(unique("sandbox"));
        std::fs::create_dir_all(root.join("policies")).unwrap();
        std::fs::write(root.join("sme.toml"), "").unwrap();
        let path = |name: &str| root.join(name).display().to_string();
        let envs = vec![
            ("SME_CONFIG".to_owned(), path("sme.toml")),
            ("SME_POLICY_DIR".to_owned(), path("policies")),
            ("SME_CACHE_DIR".to_owned(), path("cache")),
            ("SME_STATE_DIR".to_owned(), path("state")),
            ("SME_AUDIT_LOG".to_owned(), path("audit.jsonl")),
        ];
        Sandbox { root, envs }
    }

    /// The policy directory.
    pub fn policy_dir(&self) -> PathBuf {
        self.root.join("policies")
    }

    /// Writes the configuration file.
    pub fn config(&self, text: &str) -> &Sandbox {
        std::fs::write(self.root.join("sme.toml"), text).unwrap();
        self
    }

    /// Installs a module file as `<policy_dir>/<name>` (e.g. `stop.wasm`,
    /// `metrics.d/uptime.wasm`).
    pub fn install(&self, source: &str, name: &str) -> PathBuf {
        let target = self.policy_dir().join(name);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(source, &target).unwrap();
        target
    }

    /// Writes raw bytes as `<policy_dir>/<name>`.
    pub fn install_bytes(&self, bytes: &[u8], name: &str) -> PathBuf {
        let target = self.policy_dir().join(name);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(&target, bytes).unwrap();
        target
    }

    /// Sets (or replaces) an environment variable for the binaries.
    pub fn env(&mut self, key: &str, value: &str) -> &mut Sandbox {
        self.envs.retain(|(k, _)| k != key);
        self.envs.push((key.to_owned(), value.to_owned()));
        self
    }

    /// A command running `binary` with `args` in this sandbox.
    pub fn command(&self, binary: &str, args: &[&str]) -> Command {
        let mut command = Command::new(binary);
        command
            .args(args)
            .env_remove("SME_LOG")
            .env_remove("DOCKER_HOST");
        for (key, value) in &self.envs {
            command.env(key, value);
        }
        command
    }

    /// Runs `sme` with `args`.
    pub fn sme(&self, args: &[&str]) -> Run {
        Run::of(self.command(env!("CARGO_BIN_EXE_sme"), args))
    }

    /// Runs `smectl` with `args`.
    pub fn smectl(&self, args: &[&str]) -> Run {
        Run::of(self.command(env!("CARGO_BIN_EXE_smectl"), args))
    }

    /// Runs `smectl run <object> <operation> --record <file>` (the file in
    /// this sandbox); returns the run, the recording and its calls' names.
    pub fn record(&self, object: &str, operation: &str) -> (Run, PathBuf, Recorded) {
        let path = self.root.join(format!("{operation}.json"));
        let record = path.display().to_string();
        let run = self.smectl(&["run", object, operation, "--record", &record]);
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let kept: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let calls = kept["calls"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| c["call"].as_str().unwrap_or_default().to_owned())
            .collect();
        (run, path, Recorded { kept, calls })
    }

    /// The audit log's lines, parsed.
    pub fn audit(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.root.join("audit.jsonl")).unwrap_or_default();
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A recording `smectl run --record` wrote, and the names of its calls.
#[derive(Debug)]
pub struct Recorded {
    /// The whole file.
    pub kept: serde_json::Value,
    /// Each call's name (`stop-timeout`, `counters`...), in order.
    pub calls: Vec<String>,
}

/// What a binary printed and how it exited.
#[derive(Debug)]
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub code: Option<i32>,
    pub elapsed: Duration,
}

impl Run {
    /// Runs `command` to the end.
    pub fn of(mut command: Command) -> Run {
        let started = Instant::now();
        let Output {
            status,
            stdout,
            stderr,
        } = command.output().expect("running the binary");
        Run {
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            code: status.code(),
            elapsed: started.elapsed(),
        }
    }

    /// Asserts exit 0, the exact stdout, and an empty stderr.
    #[track_caller]
    pub fn succeeds_with(&self, stdout: &str) {
        assert_eq!(
            (self.code, self.stdout.as_str(), self.stderr.as_str()),
            (Some(0), stdout, ""),
            "{self:?}"
        );
    }

    /// Asserts `other` printed the same bytes, on both streams, with the
    /// same exit code.
    #[track_caller]
    pub fn answers_as(&self, other: &Run) {
        assert_eq!(
            (self.code, self.stdout.as_str(), self.stderr.as_str()),
            (other.code, other.stdout.as_str(), other.stderr.as_str()),
            "this: {self:?}\nthat: {other:?}"
        );
    }

    /// Asserts exit 1 with exactly `stdout` (and nothing on stderr).
    #[track_caller]
    pub fn fails_with(&self, stdout: &str) {
        assert_eq!(
            (self.code, self.stdout.as_str(), self.stderr.as_str()),
            (Some(1), stdout, ""),
            "{self:?}"
        );
    }

    /// Asserts exit 1 with a one-line message containing every fragment.
    #[track_caller]
    pub fn fails_mentioning(&self, fragments: &[&str]) {
        assert_eq!(self.code, Some(1), "{self:?}");
        assert!(
            !self.stdout.is_empty() && !self.stdout.contains('\n'),
            "not one line: {self:?}"
        );
        assert_eq!(self.stderr, "", "{self:?}");
        for fragment in fragments {
            assert!(
                self.stdout.contains(fragment),
                "{fragment:?} missing from {:?}",
                self.stdout
            );
        }
    }
}

/// The keys of a JSON object in the order they were printed.
pub fn keys_in_order(json: &str) -> Vec<String> {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

    struct Keys;
    impl<'de> Visitor<'de> for Keys {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
            let mut keys = Vec::new();
            while let Some((key, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                keys.push(key);
            }
            Ok(keys)
        }
    }
    serde_json::Deserializer::from_str(json)
        .deserialize_map(Keys)
        .unwrap()
}

/// The sha256 of a file, as `sha256sum` prints it.
pub fn sha256_of(path: &Path) -> String {
    let output = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8(output.stdout).unwrap()[..64].to_owned()
}

/// The node label a test run puts on a swarm it created, valued with its
/// process ID: a later run that finds a swarm so marked by a process that
/// is gone (killed mid-run) knows the swarm is a test's, and cleans it up.
const SWARM_MARKER: &str = "sme-test-swarm";

/// The label on every service a test creates, valued with its process ID.
const SERVICE_MARKER: &str = "sme-test-service";

/// Who uses the swarm in this process, and whether this process made it.
#[derive(Debug)]
struct SwarmUsers {
    users: usize,
    owned: bool,
}

static SWARM_USERS: Mutex<SwarmUsers> = Mutex::new(SwarmUsers {
    users: 0,
    owned: false,
});

/// A share of the daemon's swarm. Tests run in parallel threads: the first
/// share made turns swarm mode on when it is off (`docker swarm init`), and
/// the process that turned it on leaves it once, when it exits. Leaving and
/// making a swarm again while tests come and go is what Docker Engine 20.10
/// handles worst (a CI run lost its daemon during such a cycle), so a run
/// makes at most one. A swarm that was already active is never left, unless
/// it carries the marker of a test run that no longer runs.
#[derive(Debug)]
pub struct Swarm(());

impl Swarm {
    /// Joins (or makes) the test swarm.
    pub fn join() -> Swarm {
        let mut users = SWARM_USERS.lock().unwrap_or_else(PoisonError::into_inner);
        if users.users == 0 && !users.owned {
            users.owned = Swarm::ensure();
        }
        users.users += 1;
        Swarm(())
    }

    /// `Swarm.LocalNodeState`: `inactive`, `active`, `pending`...
    pub fn state() -> String {
        docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"])
    }

    /// Makes sure swarm mode is on; true when this process is to leave it.
    fn ensure() -> bool {
        match Swarm::state().as_str() {
            "inactive" => {
                docker(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
                Swarm::mark();
                Swarm::leave_at_exit();
                true
            }
            "active" => {
                let marker = docker(&[
                    "node",
                    "inspect",
                    "self",
                    "--format",
                    &format!("{{{{index .Spec.Labels \"{SWARM_MARKER}\"}}}}"),
                ]);
                let creator = marker.parse::<u32>().ok();
                match creator {
                    // Another test run made it and still runs: share it,
                    // and leave it to that run.
                    Some(pid) if pid != std::process::id() && is_test_process(pid) => false,
                    // A run that was killed left it: adopt it and its
                    // services.
                    Some(_) => {
                        remove_test_services();
                        Swarm::mark();
                        Swarm::leave_at_exit();
                        true
                    }
                    // Someone's own swarm: use it, never leave it.
                    None => false,
                }
            }
            other => panic!("the daemon's swarm is {other}: neither on nor off"),
        }
    }

    fn mark() {
        let node = docker(&["info", "--format", "{{.Swarm.NodeID}}"]);
        let label = format!("{SWARM_MARKER}={}", std::process::id());
        docker(&["node", "update", "--label-add", &label, &node]);
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        let mut users = SWARM_USERS.lock().unwrap_or_else(PoisonError::into_inner);
        users.users -= 1;
    }
}

unsafe extern "C" {
    /// The C library's exit hooks: they run when the test harness returns
    /// from `main` or calls `exit`, whether the tests passed or not.
    fn atexit(hook: extern "C" fn()) -> std::ffi::c_int;
}

impl Swarm {
    /// Leaves the swarm when this process exits (once, however many times
    /// it is asked).
    fn leave_at_exit() {
        static REGISTERED: std::sync::Once = std::sync::Once::new();
        REGISTERED.call_once(|| {
            // SAFETY: `leave_owned_swarm` is an `extern "C" fn()` that
            // neither unwinds nor touches the harness's state.
            let status = unsafe { atexit(leave_owned_swarm) };
            assert_eq!(status, 0, "atexit refused the swarm's exit hook");
        });
    }
}

/// The exit hook: waits (up to 20 s) for the tasks of the services the tests
/// removed to be gone, then leaves the swarm this process made.
extern "C" fn leave_owned_swarm() {
    let owned = SWARM_USERS
        .lock()
        .map(|users| users.owned)
        .unwrap_or_else(|poisoned| poisoned.into_inner().owned);
    if !owned {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let tasks = Command::new("docker")
            .args(["ps", "-aq", "--filter", "label=com.docker.swarm.service.id"])
            .output();
        match tasks {
            Ok(output) if output.status.success() && !output.stdout.is_empty() => {
                std::thread::sleep(Duration::from_millis(200));
            }
            _ => break,
        }
    }
    let _ = Command::new("docker")
        .args(["swarm", "leave", "--force"])
        .output();
}

/// Whether process `pid` is a run of this same test binary.
fn is_test_process(pid: u32) -> bool {
    let name = |pid: &str| std::fs::read_to_string(format!("/proc/{pid}/comm")).ok();
    match (name(&pid.to_string()), name("self")) {
        (Some(theirs), Some(ours)) => theirs == ours,
        _ => false,
    }
}

/// Removes the services earlier, killed, test runs left behind.
fn remove_test_services() {
    let filter = format!("label={SERVICE_MARKER}");
    let left = docker(&["service", "ls", "-q", "--filter", &filter]);
    let ids: Vec<&str> = left.split_whitespace().collect();
    if !ids.is_empty() {
        let mut args = vec!["service", "rm"];
        args.extend(ids);
        docker(&args);
    }
}

/// What `docker inspect` says of one task of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRow {
    pub id: String,
    pub state: String,
    pub desired: String,
}

/// A Swarm service from the local test image, removed when dropped. It
/// holds a share of the swarm, so the swarm outlives it.
#[derive(Debug)]
pub struct Service {
    pub name: String,
    _swarm: Swarm,
}

impl Service {
    /// A replicated service named after `prefix` with `replicas` tasks,
    /// waited for until they run.
    pub fn replicated(prefix: &str, replicas: u32) -> Service {
        let service = Service::create(&unique(prefix), &["--replicas", &replicas.to_string()], &[]);
        service.wait_running(replicas as usize);
        service
    }

    /// A global service named after `prefix`, waited for until its task
    /// (this daemon is the only node) runs.
    pub fn global(prefix: &str) -> Service {
        let service = Service::create(&unique(prefix), &["--mode", "global"], &[]);
        service.wait_running(1);
        service
    }

    /// A service named `name`, created with extra `docker service create`
    /// options and, when not empty, a command of its own; not waited for.
    /// It runs the local image as it is (there is no registry to resolve
    /// it with) and is stopped with a grace period of one second (the
    /// image's shell exits at once on SIGTERM anyway).
    pub fn create(name: &str, options: &[&str], command: &[&str]) -> Service {
        let swarm = Swarm::join();
        let label = format!("{SERVICE_MARKER}={}", std::process::id());
        let mut args = vec![
            "service",
            "create",
            "--detach",
            "--quiet",
            "--name",
            name,
            "--label",
            &label,
            "--stop-grace-period",
            "1s",
            "--no-resolve-image",
        ];
        args.extend_from_slice(options);
        args.push(image());
        args.extend_from_slice(command);
        docker(&args);
        Service {
            name: name.to_owned(),
            _swarm: swarm,
        }
    }

    /// Every task the manager keeps for the service, read in one request
    /// (tasks are pruned as they are replaced: a second request could miss
    /// one the first listed).
    pub fn tasks(&self) -> Vec<TaskRow> {
        let format = "{{.ID}}\t{{.CurrentState}}\t{{.DesiredState}}";
        let text = docker(&[
            "service",
            "ps",
            "--no-trunc",
            "--format",
            format,
            &self.name,
        ]);
        // `Running 5 seconds ago`, `Shutdown`: the state is the first word.
        let state = |text: &str| text.split(' ').next().unwrap_or("").to_ascii_lowercase();
        text.lines()
            .map(|line| {
                let fields: Vec<&str> = line.split('\t').collect();
                TaskRow {
                    id: fields[0].to_owned(),
                    state: state(fields[1]),
                    desired: state(fields[2]),
                }
            })
            .collect()
    }

    /// The IDs of the tasks in state `running`, sorted.
    pub fn running_tasks(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .tasks()
            .into_iter()
            .filter(|task| task.state == "running")
            .map(|task| task.id)
            .collect();
        ids.sort();
        ids
    }

    /// Waits until exactly `count` tasks run, each also meant to (none
    /// still being shut down).
    pub fn wait_running(&self, count: usize) {
        let started = Instant::now();
        loop {
            let tasks = self.tasks();
            let running = tasks.iter().filter(|t| t.state == "running").count();
            let settled = tasks
                .iter()
                .filter(|t| t.state == "running" && t.desired == "running")
                .count();
            if running == count && settled == count {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{} never ran {count} tasks: {tasks:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `Spec.Mode.Replicated.Replicas` (`<no value>` for a global service).
    pub fn replicas(&self) -> String {
        self.inspect("{{.Spec.Mode.Replicated.Replicas}}")
    }

    /// The service's labels.
    pub fn labels(&self) -> serde_json::Map<String, serde_json::Value> {
        serde_json::from_str(&self.inspect("{{json .Spec.Labels}}")).unwrap()
    }

    /// `Version.Index`: it changes with every update.
    pub fn version(&self) -> u64 {
        self.inspect("{{.Version.Index}}").parse().unwrap()
    }

    /// `docker service inspect --format <template>`.
    pub fn inspect(&self, template: &str) -> String {
        docker(&["service", "inspect", "--format", template, &self.name])
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["service", "rm", &self.name])
            .output();
    }
}

/// Bytes from the docker CLI's units (`646B`, `1.5kB`, `512KiB`, `2GiB`).
pub fn bytes(text: &str) -> f64 {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale = match unit {
        "B" => 1.0,
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        other => panic!("unit {other:?} in {text:?}"),
    };
    number.parse::<f64>().unwrap() * scale
}

/// The two sides of a docker `a / b` figure, in bytes.
pub fn pair(text: &str) -> (f64, f64) {
    let (a, b) = text.split_once(" / ").unwrap();
    (bytes(a), bytes(b))
}

/// Runs `future` to completion on a runtime of its own, for tests that call
/// the library's engines directly.
pub fn block_on<T>(future: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}
