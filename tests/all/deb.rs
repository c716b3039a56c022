//! The Debian package, installed for real: `scripts/build-deb` packs the
//! static binaries, `dpkg` installs the package in a Debian 12 container
//! (`scripts/debian-image`) that reaches the host's Docker Engine through
//! its socket, and `sme` acts on containers of the host daemon from there.
//! Needs the static build (`scripts/build-static`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::support::{Container, Run, docker, unique};

/// Where `scripts/build-static` leaves the binaries the package is made of.
const STATIC_SME: &str = "target/x86_64-unknown-linux-musl/release/sme";

/// Runs one of the repository's scripts and returns the last line it printed.
fn script(name: &str) -> String {
    let path = repository().join("scripts").join(name);
    let output = Command::new(&path)
        .current_dir(repository())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", path.display()));
    assert!(output.status.success(), "scripts/{name} failed: {output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    stdout.lines().last().unwrap_or_default().trim().to_owned()
}

/// The repository's root (the test belongs to `runtime/`).
fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The package, built once per test run from the static binaries.
fn package() -> &'static Path {
    static DEB: OnceLock<PathBuf> = OnceLock::new();
    DEB.get_or_init(|| {
        assert!(
            repository().join(STATIC_SME).is_file(),
            "{STATIC_SME} is missing: build the static binaries first with `scripts/build-static`"
        );
        let deb = repository().join(script("build-deb"));
        // Docker mounts absolute, clean paths.
        deb.canonicalize()
            .unwrap_or_else(|e| panic!("{}: {e}", deb.display()))
    })
}

/// The Debian 12 image, built once (and then reused across runs).
fn debian_image() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| script("debian-image"))
}

/// Where the package is mounted in the Debian container.
const DEB_IN_CONTAINER: &str = "/tmp/sme.deb";

/// A Debian container with the package and the host's Docker socket
/// mounted, removed when dropped.
#[derive(Debug)]
struct Debian {
    name: String,
}

impl Debian {
    fn start() -> Debian {
        let deb = package();
        let image = debian_image();
        let name = unique("deb");
        let mount = format!("{}:{DEB_IN_CONTAINER}:ro", deb.display());
        let mut command = Command::new("docker");
        command.args(["run", "--detach", "--name", &name]);
        // The guard exists before the container may: a failed `run` still
        // leaves nothing behind.
        let debian = Debian { name };
        let output = command
            .args(["-v", "/var/run/docker.sock:/var/run/docker.sock", "-v"])
            .arg(&mount)
            .arg(image)
            .output()
            .expect("running docker");
        assert!(output.status.success(), "docker run failed: {output:?}");
        debian
    }

    /// Runs a shell script in the container, as root.
    fn sh(&self, script: &str) -> Run {
        self.exec(&["sh", "-c", script])
    }

    /// Runs a command in the container, as root.
    fn exec(&self, args: &[&str]) -> Run {
        let mut command = Command::new("docker");
        command.args(["exec", &self.name]).args(args);
        Run::of(command)
    }

    /// Runs a shell script that must succeed; returns its stdout.
    #[track_caller]
    fn ok(&self, script: &str) -> String {
        let run = self.sh(script);
        assert_eq!(run.code, Some(0), "{script}: {run:?}");
        run.stdout
    }

    /// `dpkg -i` of the mounted package.
    #[track_caller]
    fn install(&self) {
        self.ok(&format!("dpkg -i {DEB_IN_CONTAINER}"));
    }

    /// `<owner>:<group> <octal mode>` of each path, one line each.
    #[track_caller]
    fn owners_and_modes(&self, paths: &[&str]) -> Vec<String> {
        let script = format!("stat -c '%U:%G %a %n' {}", paths.join(" "));
        self.ok(&script).lines().map(str::to_owned).collect()
    }

    /// Whether `path` exists in the container.
    fn exists(&self, path: &str) -> bool {
        self.sh(&format!("test -e {path}")).code == Some(0)
    }
}

impl Drop for Debian {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.name])
            .output();
    }
}

/// A running container on the host daemon with an agent-style name.
fn edgex_service() -> Container {
    Container::named(&format!("edgex-{}", unique("deb-service")), &[])
}

/// The file where `sme` keeps CPU readings of `container` (see
/// `runtime/src/host/stats/history.rs`).
fn kept_readings(container: &Container) -> String {
    let id = docker(&["inspect", "-f", "{{.Id}}", &container.name]);
    format!("/var/lib/sme/cpu/{id}")
}

#[test]
fn installs_with_the_owners_and_modes_sme_trusts_and_purge_removes_state_and_cache() {
    let debian = Debian::start();
    debian.install();
    assert_eq!(
        debian.owners_and_modes(&[
            "/etc/sme",
            "/etc/sme/policies",
            "/var/lib/sme",
            "/var/cache/sme",
            "/usr/bin/sme",
            "/usr/bin/smectl",
        ]),
        [
            "root:root 755 /etc/sme",
            "root:root 755 /etc/sme/policies",
            "root:root 700 /var/lib/sme",
            "root:root 700 /var/cache/sme",
            "root:root 755 /usr/bin/sme",
            "root:root 755 /usr/bin/smectl",
        ]
    );
    // No active configuration: its absence means the built-in defaults.
    assert!(!debian.exists("/etc/sme/sme.toml"));
    for doc in ["copyright", "README", "sme.toml.example"] {
        assert!(debian.exists(&format!("/usr/share/doc/sme/{doc}")), "{doc}");
    }
    // The example is all comments: copied as it is, it changes nothing.
    debian.ok("cp /usr/share/doc/sme/sme.toml.example /etc/sme/sme.toml");
    let check = debian.exec(&["smectl", "check"]);
    assert_eq!(check.code, Some(0), "{check:?}");
    debian.ok("rm /etc/sme/sme.toml");
    let check = debian.exec(&["smectl", "check"]);
    assert_eq!(check.code, Some(0), "{check:?}");

    // Something of SME's own in state and cache, and an operator's file in
    // /etc/sme: remove keeps all three, purge only SME's own.
    debian.ok("touch /var/lib/sme/reading /var/cache/sme/artifact /etc/sme/policies/stop.wasm");
    debian.ok("dpkg -r sme");
    assert!(!debian.exists("/usr/bin/sme"));
    assert!(!debian.exists("/usr/bin/smectl"));
    assert!(debian.exists("/var/lib/sme/reading"));
    assert!(debian.exists("/var/cache/sme/artifact"));
    debian.ok("dpkg -P sme");
    assert!(!debian.exists("/var/lib/sme"));
    assert!(!debian.exists("/var/cache/sme"));
    assert!(debian.exists("/etc/sme/policies/stop.wasm"));
    let status = debian.sh("dpkg -s sme");
    assert_ne!(status.code, Some(0), "still known to dpkg: {status:?}");
}

#[test]
fn the_installed_sme_stops_and_starts_host_containers_and_keeps_cpu_readings() {
    let debian = Debian::start();
    debian.install();
    let service = edgex_service();

    debian
        .exec(&["sme", &service.name, "stop"])
        .succeeds_with("\"\"");
    assert_eq!(service.status(), "exited");
    debian
        .exec(&["sme", &service.name, "start"])
        .succeeds_with("\"\"");
    assert!(service.is_running());

    let missing = format!("edgex-{}", unique("deb-missing"));
    debian.exec(&["sme", &missing, "stop"]).fails_with(&format!(
        "exit status 1: Error response from daemon: No such container: {missing}\n"
    ));

    for _ in 0..2 {
        let metrics = debian.exec(&["sme", &service.name, "metrics"]);
        assert_eq!(metrics.code, Some(0), "{metrics:?}");
        assert_eq!(metrics.stderr, "", "{metrics:?}");
        let fields: serde_json::Value = serde_json::from_str(&metrics.stdout).unwrap();
        assert!(fields["memoryUsed"].as_u64().is_some(), "{metrics:?}");
    }
    let readings = kept_readings(&service);
    assert_eq!(
        debian.owners_and_modes(&[&readings]),
        [format!("root:root 600 {readings}")]
    );
    assert_eq!(
        debian.owners_and_modes(&["/var/lib/sme/cpu"]),
        ["root:root 700 /var/lib/sme/cpu"]
    );
}

/// The documented set-up of a dedicated user: a system user in the group
/// that owns the socket (the host's GID, given a name in the container when
/// it has none), owning state and cache through dpkg-statoverride, so that
/// upgrades keep them its own. Configuration and policies stay root's.
const DEDICATED_USER_SETUP: &str = r#"set -e
gid=$(stat -c %g /var/run/docker.sock)
group=$(getent group "$gid" | cut -d: -f1)
if [ -z "$group" ]; then group=docker; groupadd -g "$gid" "$group"; fi
adduser --quiet --system --group --no-create-home sme
adduser --quiet sme "$group"
dpkg-statoverride --update --add sme sme 0700 /var/lib/sme
dpkg-statoverride --update --add sme sme 0700 /var/cache/sme
"#;

#[test]
fn a_dedicated_user_with_the_socket_runs_sme_and_keeps_its_directories_across_an_upgrade() {
    let debian = Debian::start();
    debian.install();
    let service = edgex_service();

    debian.ok(DEDICATED_USER_SETUP);
    let as_sme = |args: &[&str]| {
        let mut command = vec!["setpriv", "--reuid=sme", "--regid=sme", "--init-groups"];
        command.extend_from_slice(args);
        debian.exec(&command)
    };

    as_sme(&["sme", &service.name, "stop"]).succeeds_with("\"\"");
    assert_eq!(service.status(), "exited");
    as_sme(&["sme", &service.name, "start"]).succeeds_with("\"\"");
    assert!(service.is_running());
    for _ in 0..2 {
        let metrics = as_sme(&["sme", &service.name, "metrics"]);
        assert_eq!(
            (metrics.code, metrics.stderr.as_str()),
            (Some(0), ""),
            "{metrics:?}"
        );
    }
    let readings = kept_readings(&service);
    assert_eq!(
        debian.owners_and_modes(&[&readings]),
        [format!("sme:sme 600 {readings}")]
    );
    let check = as_sme(&["smectl", "check"]);
    assert_eq!(check.code, Some(0), "{check:?}");

    // An upgrade (here: the same package again) keeps the owners, and the
    // configuration stays root's.
    debian.install();
    assert_eq!(
        debian.owners_and_modes(&["/etc/sme", "/var/lib/sme", "/var/cache/sme"]),
        [
            "root:root 755 /etc/sme",
            "sme:sme 700 /var/lib/sme",
            "sme:sme 700 /var/cache/sme",
        ]
    );
    debian.ok("dpkg -P sme");
    assert!(!debian.exists("/var/lib/sme"));
}
