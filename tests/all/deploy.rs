//! Deployment in EdgeX's agent container: `deploy/Dockerfile` layered on a
//! local stand-in for the agent's image, run through
//! `deploy/docker-compose.sme.yml` over a base file shaped like EdgeX's
//! `system` service (root, read-only root filesystem, the Docker socket),
//! and asked what the agent asks (`docker exec <agent> /sys-mgmt-executor
//! edgex-<svc> <op>`) about real containers. There is no registry here, so
//! the stand-in is built from Debian's busybox-static, like the test image:
//! no libc, a root user, an idle PID 1, the agent's executor settings.

use std::io::Write as _;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use sme_test_artifacts as guests;

use crate::support::{
    Container, Run, Sandbox, docker, keys_in_order, python_policy, sandboxes, unique,
};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A binary of the static build, or a clear failure naming the step that
/// makes it.
fn static_binary(name: &str) -> PathBuf {
    let path = repo()
        .join("target/x86_64-unknown-linux-musl/release")
        .join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `scripts/build-static` (scripts/test does) before these tests",
        path.display()
    );
    path
}

/// The stand-in for `edgexfoundry/sys-mgmt-agent:2.3.0`, built once per run.
/// Like Alpine it has busybox's applets and a root group (compose's
/// `user: root:root` needs one); its PID 1 idles and exits at once on
/// SIGTERM. Rebuilding is cheap: Docker's layer cache answers.
fn stand_in() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let name = "sme-test-sma-stand-in:latest";
        let dockerfile = format!(
            "FROM {}\n\
             RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n\
             RUN echo 'root:x:0:root' > /etc/group\n\
             ENV EXECUTORPATH=/sys-mgmt-executor METRICSMECHANISM=executor\n",
            crate::support::image()
        );
        let mut build = Command::new("docker")
            .args(["build", "--quiet", "-t", name, "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running docker build");
        build
            .stdin
            .take()
            .unwrap()
            .write_all(dockerfile.as_bytes())
            .unwrap();
        let output = build.wait_with_output().unwrap();
        assert!(output.status.success(), "stand-in build: {output:?}");
        name.to_owned()
    })
}

/// The SME-layered image, built once per run by `deploy/build-image` as an
/// operator would, from the stand-in. Its tag names the binaries' hashes, so
/// a rebuilt binary always gets a fresh image and concurrent runs with
/// different binaries never share one.
fn layered() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let (sme, smectl) = (static_binary("sme"), static_binary("smectl"));
        let hash = |path: &Path| crate::support::sha256_of(path)[..12].to_owned();
        let name = format!("sme-test-sma:{}-{}", hash(&sme), hash(&smectl));
        let context = sandboxes().join(unique("image-context"));
        let output = Command::new(repo().join("deploy/build-image"))
            .env("SMA_IMAGE", stand_in())
            .env("SME_IMAGE", &name)
            .env("SME_IMAGE_CONTEXT", &context)
            .output()
            .expect("running deploy/build-image");
        let _ = std::fs::remove_dir_all(&context);
        assert!(output.status.success(), "deploy/build-image: {output:?}");
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), name);
        name
    })
}

/// Where state and cache live in an agent container.
#[derive(Debug, Clone, Copy)]
enum Storage {
    /// The override's bind mounts of host directories.
    Mounted,
    /// Nothing: the image's directories on a read-only root filesystem.
    None,
    /// A tmpfs as compose's `tmpfs` entry `<path>[:<options>]`, used as the
    /// state directory.
    Tmpfs(&'static str),
}

/// An agent container run by `docker-compose` as EdgeX runs it, with its
/// own project, and host directories for SME's configuration (`etc/`, with
/// `sme.toml` and `policies/`), state and cache. Taken down (`down -v`) and
/// its directories removed when dropped.
#[derive(Debug)]
struct Agent {
    project: String,
    dir: PathBuf,
    container: String,
    files: Vec<String>,
}

impl Agent {
    /// An agent as deployed: the base file and the override.
    fn deployed() -> Agent {
        Agent::up(Storage::Mounted)
    }

    fn up(storage: Storage) -> Agent {
        let project = unique("agent").replace('-', "");
        let dir = sandboxes().join(unique("agent"));
        let mut private = std::fs::DirBuilder::new();
        private.mode(0o700);
        std::fs::create_dir_all(dir.join("etc/policies")).unwrap();
        std::fs::write(dir.join("etc/sme.toml"), "").unwrap();
        private.create(dir.join("state")).unwrap();
        private.create(dir.join("cache")).unwrap();
        let mut agent = Agent {
            container: format!("edgex-sys-mgmt-agent-{project}"),
            files: Vec::new(),
            project,
            dir,
        };
        // With the override, the base names the agent's own image and the
        // override swaps it; without it, the base runs the layered image
        // with only the configuration mounted, as an operator who skipped
        // the volumes would.
        let (image, environment, extra) = match storage {
            Storage::Mounted => (stand_in(), String::new(), String::new()),
            Storage::None => (layered(), String::new(), agent.etc_mount()),
            Storage::Tmpfs(entry) => {
                let path = entry.split(':').next().unwrap();
                (
                    layered(),
                    format!("      SME_STATE_DIR: {path}\n"),
                    format!("{}    tmpfs:\n      - {entry}\n", agent.etc_mount()),
                )
            }
        };
        let base = agent.dir.join("docker-compose.yml");
        std::fs::write(&base, agent.base_file(image, &environment, &extra)).unwrap();
        agent.files.push(base.display().to_string());
        if let Storage::Mounted = storage {
            let over = repo().join("deploy/docker-compose.sme.yml");
            agent.files.push(over.display().to_string());
        }
        let run = agent.compose(&["up", "-d", "system"]);
        assert_eq!(run.code, Some(0), "docker-compose up: {run:?}");
        agent
    }

    /// The `system` service of edgex-compose v2.3.0, less what a test
    /// cannot or need not have: its published port 58890 (tests run in
    /// parallel), the other services and their settings.
    /// `environment` and `extra` add lines to its environment and after its
    /// volumes.
    fn base_file(&self, image: &str, environment: &str, extra: &str) -> String {
        format!(
            "version: '3.7'\n\
             services:\n  \
               system:\n    \
                 image: {image}\n    \
                 container_name: {container}\n    \
                 hostname: edgex-sys-mgmt-agent\n    \
                 environment:\n      \
                   EXECUTORPATH: /sys-mgmt-executor\n      \
                   METRICSMECHANISM: executor\n{environment}    \
                 read_only: true\n    \
                 restart: always\n    \
                 security_opt:\n      \
                   - label:disable\n      \
                   - no-new-privileges:true\n    \
                 user: root:root\n    \
                 volumes:\n      \
                   - /var/run/docker.sock:/var/run/docker.sock:z\n{extra}",
            container = self.container,
        )
    }

    /// A further `volumes` entry of the base file: the configuration alone.
    fn etc_mount(&self) -> String {
        format!("      - {}:/etc/sme:ro\n", self.dir.join("etc").display())
    }

    /// Runs `docker-compose` on this agent's project and files, with the
    /// override's host paths pointing at this agent's directories.
    fn compose(&self, args: &[&str]) -> Run {
        let mut command = Command::new("docker-compose");
        command.args(["-p", &self.project]);
        for file in &self.files {
            command.args(["-f", file]);
        }
        command
            .args(args)
            .env("SME_IMAGE", layered())
            .env("SME_HOST_ETC", self.dir.join("etc"))
            .env("SME_HOST_STATE", self.dir.join("state"))
            .env("SME_HOST_CACHE", self.dir.join("cache"));
        Run::of(command)
    }

    /// Runs the executor in the container as the agent does.
    fn executor(&self, args: &[&str]) -> Run {
        self.exec(&[&["/sys-mgmt-executor"], args].concat())
    }

    /// Runs a command in the container.
    fn exec(&self, args: &[&str]) -> Run {
        let mut command = Command::new("docker");
        command.args(["exec", &self.container]).args(args);
        Run::of(command)
    }

    /// The static `smectl` on the host, pointed at this agent's directories
    /// as the defaults point the operator's at `/etc/sme` and the rest.
    fn host_smectl(&self, args: &[&str]) -> Run {
        let mut command = Command::new(static_binary("smectl"));
        command
            .args(args)
            .env_remove("SME_LOG")
            .env_remove("DOCKER_HOST")
            .env_remove("SME_AUDIT_LOG")
            .env("SME_CONFIG", self.dir.join("etc/sme.toml"))
            .env("SME_POLICY_DIR", self.dir.join("etc/policies"))
            .env("SME_STATE_DIR", self.dir.join("state"))
            .env("SME_CACHE_DIR", self.dir.join("cache"));
        Run::of(command)
    }

    /// What a directory in the container holds, as `ls -A` lists it.
    fn listing(&self, dir: &str) -> String {
        let run = self.exec(&["ls", "-A", dir]);
        assert_eq!(run.code, Some(0), "ls {dir}: {run:?}");
        run.stdout.trim().to_owned()
    }

    /// The compiled artifacts in the cache (beside them the runtime may keep
    /// other files of its own, such as remembered digests).
    fn artifacts(&self) -> Vec<String> {
        let mut names = self.names_in("cache");
        names.retain(|name| name.ends_with(".cwasm"));
        names
    }

    /// The names in a host directory of this agent (`state/cpu`, `cache`).
    fn names_in(&self, dir: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.join(dir))
            .map(|entries| {
                entries
                    .map(|entry| entry.unwrap().file_name().into_string().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.compose(&["down", "-v", "--timeout", "1"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running container with a name the agent could ask about.
fn edgex_container(prefix: &str) -> Container {
    Container::named(&format!("edgex-{}", unique(prefix)), &[])
}

/// `cpuUsedPercent` of a successful metrics run.
#[track_caller]
fn cpu_percent(run: &Run) -> f64 {
    assert_eq!((run.code, run.stderr.as_str()), (Some(0), ""), "{run:?}");
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    value["cpuUsedPercent"].as_f64().unwrap()
}

/// The metrics object's keys, as the reference executor prints them.
const METRICS_KEYS: [&str; 3] = ["cpuUsedPercent", "memoryUsed", "raw"];

#[test]
fn the_override_validates_against_an_edgex_style_base_file() {
    let agent = Agent::deployed();
    let run = agent.compose(&["config"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let merged = &run.stdout;
    let dir = agent.dir.display();
    for line in [
        format!("image: {}", layered()),
        format!("- {dir}/etc:/etc/sme:ro"),
        format!("- {dir}/state:/var/lib/sme:rw"),
        format!("- {dir}/cache:/var/cache/sme:rw"),
        "- /var/run/docker.sock:/var/run/docker.sock:z".to_owned(),
        "- /sys/fs/cgroup:/sys/fs/cgroup:ro".to_owned(),
        "- /proc:/host/proc:ro".to_owned(),
        "SME_HOST_PROC: /host/proc".to_owned(),
        "EXECUTORPATH: /sys-mgmt-executor".to_owned(),
        "read_only: true".to_owned(),
        "user: root:root".to_owned(),
    ] {
        assert!(merged.contains(&line), "{line:?} missing from\n{merged}");
    }

    // Without the test's variables, the operator's defaults.
    let mut command = Command::new("docker-compose");
    command.args(["-p", &agent.project]);
    for file in &agent.files {
        command.args(["-f", file]);
    }
    for key in [
        "SME_IMAGE",
        "SME_HOST_ETC",
        "SME_HOST_STATE",
        "SME_HOST_CACHE",
    ] {
        command.env_remove(key);
    }
    command.arg("config");
    let run = Run::of(command);
    assert_eq!(run.code, Some(0), "{run:?}");
    for line in [
        "image: sme-sys-mgmt-agent:2.3.0",
        "- /etc/sme:/etc/sme:ro",
        "- /var/lib/sme:/var/lib/sme:rw",
        "- /var/cache/sme:/var/cache/sme:rw",
    ] {
        assert!(run.stdout.contains(line), "{line:?} missing from\n{run:?}");
    }
}

#[test]
fn the_layered_image_keeps_the_agents_command_and_adds_sme_and_private_directories() {
    let config = |image: &str| docker(&["inspect", "-f", "{{json .Config}}", image]);
    let (agent, layered_config) = (
        serde_json::from_str::<serde_json::Value>(&config(stand_in())).unwrap(),
        serde_json::from_str::<serde_json::Value>(&config(layered())).unwrap(),
    );
    for key in ["Entrypoint", "Cmd", "Env", "User", "WorkingDir"] {
        assert_eq!(layered_config[key], agent[key], "{key}");
    }

    let listing = docker(&[
        "run",
        "--rm",
        layered(),
        "stat",
        "-c",
        "%a %u:%g %n",
        "/etc/sme",
        "/etc/sme/policies",
        "/var/lib/sme",
        "/var/cache/sme",
    ]);
    assert_eq!(
        listing,
        "755 0:0 /etc/sme\n755 0:0 /etc/sme/policies\n700 0:0 /var/lib/sme\n700 0:0 /var/cache/sme"
    );
    let sums = docker(&[
        "run",
        "--rm",
        layered(),
        "sha256sum",
        "/sys-mgmt-executor",
        "/usr/local/bin/smectl",
    ]);
    let expected = format!(
        "{}  /sys-mgmt-executor\n{}  /usr/local/bin/smectl",
        crate::support::sha256_of(&static_binary("sme")),
        crate::support::sha256_of(&static_binary("smectl"))
    );
    assert_eq!(sums, expected);
}

#[test]
fn the_executor_in_the_agent_container_answers_as_the_host_build_does() {
    let agent = Agent::deployed();
    let host = Sandbox::new();
    let (ours, theirs) = (edgex_container("deploy-a"), edgex_container("deploy-b"));

    let both = |operation: &str, status: &str| {
        let run = agent.executor(&[&ours.name, operation]);
        run.succeeds_with("\"\"");
        run.answers_as(&host.sme(&[&theirs.name, operation]));
        assert_eq!(
            (ours.status(), theirs.status()),
            (status.into(), status.into())
        );
    };
    both("stop", "exited");
    both("stop", "exited");
    both("start", "running");

    // Metrics also give the started shells time to set their SIGTERM
    // trap, so the restart below does not wait out the grace period.
    let run = agent.executor(&[&ours.name, "metrics"]);
    let on_host = host.sme(&[&theirs.name, "metrics"]);
    for run in [&run, &on_host] {
        assert_eq!((run.code, run.stderr.as_str()), (Some(0), ""), "{run:?}");
        assert_eq!(keys_in_order(&run.stdout), METRICS_KEYS);
    }
    both("restart", "running");

    let missing = format!("edgex-{}", unique("deploy-missing"));
    for (operation, text) in [
        (
            "stop",
            format!("exit status 1: Error response from daemon: No such container: {missing}\n"),
        ),
        (
            "start",
            format!(
                "exit status 1: Error response from daemon: No such container: {missing}\n\
                 Error: failed to start containers: {missing}\n"
            ),
        ),
        (
            "metrics",
            format!("exit status 1: Error response from daemon: No such container: {missing}\n"),
        ),
    ] {
        let run = agent.executor(&[&missing, operation]);
        run.fails_with(&text);
        run.answers_as(&host.sme(&[&missing, operation]));
    }

    for name in ["edgex-a;b", "edgex-x/../other", "edgex-two words"] {
        let run = agent.executor(&[name, "stop"]);
        run.fails_mentioning(&["is not a valid container name"]);
        run.answers_as(&host.sme(&[name, "stop"]));
    }
    let run = agent.executor(&[&ours.name, "pause"]);
    run.fails_with("operation not supported by executor");
    run.answers_as(&host.sme(&[&ours.name, "pause"]));
}

#[test]
fn metrics_keep_their_cpu_reading_in_the_state_volume_between_calls() {
    // The override mounts the cgroups: readings of them are kept apart
    // from the Engine's (`state/cpu`, which the agents without the
    // override below use), in `state/cgroup`.
    let agent = Agent::deployed();
    // The container burns about a second of CPU before it idles: a
    // figure measured against a reading of zero CPU time is then far from
    // the idle container's true, near-zero one.
    let name = format!("edgex-{}", unique("deploy-metrics"));
    let busy = "trap 'exit 0' TERM; i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done; \
                echo ready; while :; do sleep 1 & wait $!; done";
    docker(&[
        "run",
        "-d",
        "--name",
        &name,
        crate::support::image(),
        "sh",
        "-c",
        busy,
    ]);
    let container = Container { name };
    container.wait_ready();
    let id = docker(&["inspect", "-f", "{{.Id}}", &container.name]);

    // The first call has nothing kept: it measures as docker does and
    // leaves its reading in the state volume, under the container's ID.
    let first = agent.executor(&[&container.name, "metrics"]);
    cpu_percent(&first);
    assert_eq!(agent.names_in("state/cgroup"), std::slice::from_ref(&id));
    assert_eq!(agent.names_in("state/cpu"), [] as [String; 0]);
    let kept = std::fs::read_to_string(agent.dir.join("state/cgroup").join(&id)).unwrap();
    let newest: Vec<u64> = kept
        .lines()
        .last()
        .expect("a kept reading")
        .split(' ')
        .map(|field| field.parse().unwrap())
        .collect();
    let [_, _, system_ns, online_cpus] = newest[..] else {
        panic!("not a reading: {kept:?}");
    };

    // Replace it by a reading a second old that says the container had
    // used no CPU yet: only a run that measures against what the state
    // volume holds can report the CPU time burnt since as a high figure.
    let second_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        - 1_000_000_000;
    std::fs::write(
        agent.dir.join("state/cgroup").join(&id),
        format!("{second_ago} 0 {system_ns} {online_cpus}\n"),
    )
    .unwrap();
    let second = agent.executor(&[&container.name, "metrics"]);
    let cpu = cpu_percent(&second);
    assert!(
        cpu > 5.0,
        "{cpu}% is not measured against the kept reading: {second:?}"
    );
    assert_eq!(keys_in_order(&second.stdout), METRICS_KEYS);
}

#[test]
fn a_policy_file_is_compiled_once_into_the_cache_volume() {
    let agent = Agent::deployed();
    std::fs::copy(
        guests::PROTECTED_STOP,
        agent.dir.join("etc/policies/stop.wasm"),
    )
    .unwrap();
    let container = edgex_container("deploy-cached");

    agent
        .executor(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    assert_eq!(container.status(), "exited");
    let artifacts = agent.artifacts();
    assert_eq!(artifacts.len(), 1, "{artifacts:?}");
    let artifact = agent.dir.join("cache").join(&artifacts[0]);
    let written = std::fs::metadata(&artifact).unwrap().modified().unwrap();

    // Later calls map the artifact; the policy file is what answers.
    agent
        .executor(&["edgex-redis", "stop"])
        .fails_with("Error stopping service: edgex-redis is protected and may not be stopped");
    agent
        .executor(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    assert_eq!(agent.artifacts(), artifacts);
    assert_eq!(
        std::fs::metadata(&artifact).unwrap().modified().unwrap(),
        written
    );
}

#[test]
fn a_python_policy_runs_once_the_operator_installs_it_with_the_static_smectl_on_the_host() {
    let agent = Agent::deployed();
    let module = python_policy("stop");
    let container = edgex_container("deploy-python");

    // Dropped in by hand, it is too large to compile inside a request.
    std::fs::copy(&module, agent.dir.join("etc/policies/stop.wasm")).unwrap();
    let run = agent.executor(&[&container.name, "stop"]);
    run.fails_mentioning(&["not precompiled", "smectl install", "smectl check"]);
    assert!(container.is_running());

    // The operator's step, on the host: check, copy, pin, precompile into
    // the directories the container reads. No restart.
    let install = agent.host_smectl(&["install", &module.display().to_string(), "--as", "stop"]);
    assert_eq!(install.code, Some(0), "smectl install: {install:?}");
    let pin = crate::support::sha256_of(&module);
    let config = std::fs::read_to_string(agent.dir.join("etc/sme.toml")).unwrap();
    assert!(config.contains(&pin), "no pin in {config:?}");

    agent
        .executor(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    assert_eq!(container.status(), "exited");
}

#[test]
fn smectl_check_in_the_agent_container_precompiles_into_the_cache_volume() {
    let agent = Agent::deployed();
    let container = edgex_container("deploy-check");
    std::fs::copy(
        python_policy("stop"),
        agent.dir.join("etc/policies/stop.wasm"),
    )
    .unwrap();
    agent
        .executor(&[&container.name, "stop"])
        .fails_mentioning(&["not precompiled", "smectl check"]);

    let check = agent.exec(&["smectl", "check"]);
    assert_eq!(check.code, Some(0), "smectl check: {check:?}");
    assert_eq!(agent.artifacts().len(), 1);
    agent
        .executor(&[&container.name, "stop"])
        .succeeds_with("\"\"");
}

#[test]
fn without_state_or_cache_volumes_a_read_only_agent_still_answers() {
    let agent = Agent::up(Storage::None);
    let container = edgex_container("deploy-bare");

    // Nothing can be kept: metrics measure the slow way, every time.
    for _ in 0..2 {
        let run = agent.executor(&[&container.name, "metrics"]);
        cpu_percent(&run);
        assert_eq!(keys_in_order(&run.stdout), METRICS_KEYS);
    }
    assert_eq!(agent.listing("/var/lib/sme"), "");
    let check = agent.exec(&["smectl", "check"]);
    assert!(
        check
            .stdout
            .contains("containers' cgroups are not visible here: metrics wait for the Docker"),
        "{check:?}"
    );

    // Built-in policies are in the binary; a Python policy has nowhere to
    // have been precompiled, and says so.
    agent
        .executor(&[&container.name, "restart"])
        .succeeds_with("\"\"");
    std::fs::copy(
        python_policy("stop"),
        agent.dir.join("etc/policies/stop.wasm"),
    )
    .unwrap();
    agent
        .executor(&[&container.name, "stop"])
        .fails_mentioning(&[
            "not precompiled",
            "compile_on_demand_kib",
            "the cache directory /var/cache/sme cannot be written (Read-only file system",
            "mount a writable volume on it",
        ]);
    assert!(container.is_running());
    assert_eq!(agent.listing("/var/cache/sme"), "");
}

#[test]
fn a_private_tmpfs_keeps_cpu_readings_and_a_world_writable_one_is_ignored() {
    // On a mount point the image has, Docker's tmpfs copies the directory's
    // mode (the image's 0700, whatever `mode=` says); elsewhere its mode is
    // `mode=`, by default 1777.
    let in_image = Agent::up(Storage::Tmpfs("/var/lib/sme"));
    let private = Agent::up(Storage::Tmpfs("/run/sme:mode=0700"));
    let shared = Agent::up(Storage::Tmpfs("/run/sme"));
    let container = edgex_container("deploy-tmpfs");
    let id = docker(&["inspect", "-f", "{{.Id}}", &container.name]);

    for (agent, dir, mode) in [
        (&in_image, "/var/lib/sme", "700"),
        (&private, "/run/sme", "700"),
        (&shared, "/run/sme", "1777"),
    ] {
        let run = agent.exec(&["stat", "-c", "%a", dir]);
        assert_eq!(run.stdout.trim(), mode, "{run:?}");
        let run = agent.executor(&[&container.name, "metrics"]);
        cpu_percent(&run);
        assert_eq!(keys_in_order(&run.stdout), METRICS_KEYS);
    }
    assert_eq!(in_image.listing("/var/lib/sme/cpu"), id);
    assert_eq!(private.listing("/run/sme/cpu"), id);
    // Anyone in the container could plant readings in it: SME keeps none.
    assert_eq!(shared.listing("/run/sme"), "");
}

#[test]
fn a_fan_out_inside_the_agent_container_reads_each_containers_own_counters() {
    let agent = Agent::deployed();
    std::fs::write(
        agent.dir.join("etc/sme.toml"),
        "audit_log = \"/var/lib/sme/audit.jsonl\"\n",
    )
    .unwrap();
    let containers: Vec<Container> = (0..5)
        .map(|i| edgex_container(&format!("fan-{i}")))
        .collect();
    // Traffic in one container's namespace only: the figures must be its
    // own, not the agent container's.
    let talker = &containers[0];
    let gateway = docker(&[
        "inspect",
        "-f",
        "{{.NetworkSettings.Gateway}}",
        &talker.name,
    ]);
    docker(&[
        "exec",
        &talker.name,
        "busybox",
        "ping",
        "-c",
        "3",
        "-W",
        "1",
        &gateway,
    ]);

    // One executor per service, all at once, as the agent answers
    // `GET /api/v2/system/metrics?services=...`.
    let runs: Vec<Run> = std::thread::scope(|scope| {
        let started: Vec<_> = containers
            .iter()
            .map(|c| scope.spawn(|| agent.executor(&[&c.name, "metrics"])))
            .collect();
        started.into_iter().map(|t| t.join().unwrap()).collect()
    });
    for run in &runs {
        cpu_percent(run);
        assert_eq!(keys_in_order(&run.stdout), METRICS_KEYS);
    }
    let row = docker(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.NetIO}}",
        &talker.name,
    ]);
    let ours: serde_json::Value = serde_json::from_str(&runs[0].stdout).unwrap();
    let (net, docker_net) = (
        crate::support::pair(ours["raw"]["net_io"].as_str().unwrap()),
        crate::support::pair(&row),
    );
    assert!(net.0 > 0.0 && net.1 > 0.0, "the pings are counted: {net:?}");
    assert!(
        (net.0 - docker_net.0).abs() <= 1024.0 && (net.1 - docker_net.1).abs() <= 1024.0,
        "network {net:?} vs docker {docker_net:?}"
    );

    // Every figure came from the cgroup and the container's own namespace,
    // seen through the host's /proc the override mounts.
    let audit = std::fs::read_to_string(agent.dir.join("state/audit.jsonl")).unwrap();
    let measured: Vec<(String, String)> = audit
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|line| line["verb"] == "stats")
        .map(|line| {
            let field = |key: &str| line[key].as_str().unwrap_or_default().to_owned();
            (field("source"), field("network"))
        })
        .collect();
    assert_eq!(
        measured,
        vec![("cgroup".to_owned(), "read".to_owned()); containers.len()],
        "{audit}"
    );
    let id = docker(&["inspect", "-f", "{{.Id}}", &talker.name]);
    assert!(agent.names_in("state/network").contains(&id));

    let check = agent.exec(&["smectl", "check"]);
    assert!(
        check.stdout.contains(
            "cgroup v1: metrics read containers' counters directly, about a quarter second"
        ),
        "{check:?}"
    );
}
