//! The simulated swarm held against a real one: the same service calls on
//! a real single-node swarm (through the Engine) and on the simulation give
//! the same answers once the swarm has settled (replica and task counts,
//! task states, update states, labels, error kinds and texts); the default
//! policies print the same and make the same calls on both; and a dry run
//! or a recording of a run on a service behaves as one on a container.

use std::time::{Duration, Instant};

use sme::backend::docker::{DockerError, Engine};
use sme::backend::{Containers, Services};
use sme::contract::{Mode, Service as Record, TaskState, UpdateState};
use sme::sim::{SimService, Simulated, now_ms};

use crate::support::{Sandbox, Service, block_on, unique};

/// An engine with containers and services: the real one and the simulated.
trait Docker: Containers + Services {}
impl<T: Containers + Services> Docker for T {}

/// The label Docker puts on every task container, naming its service.
const SERVICE_ID_LABEL: &str = "com.docker.swarm.service.id";

fn engine() -> Engine {
    let endpoint = std::env::var("DOCKER_HOST")
        .ok()
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| "unix:///var/run/docker.sock".to_owned());
    Engine::connect(&endpoint).unwrap()
}

/// What the comparison looks at: everything but IDs and times (which only
/// the simulation makes up) and the version's value (which only has to
/// move the same way).
#[derive(Debug, PartialEq)]
struct View {
    mode: Mode,
    replicas: Option<u64>,
    desired_tasks: u32,
    running_tasks: u32,
    /// Each task's slot, desired state, state and exit code, sorted.
    tasks: Vec<(Option<u32>, TaskState, TaskState, Option<i64>)>,
    update_state: UpdateState,
    update_message: String,
    labels: Vec<(String, String)>,
    image: String,
    /// The task containers a listing by the service's ID shows running.
    listed: usize,
}

impl View {
    fn of(docker: &dyn Docker, service: &Record) -> View {
        let selector = format!("{SERVICE_ID_LABEL}={}", service.id);
        let listed = block_on(docker.list(Some(&selector), false)).unwrap();
        let prefix = format!("{}.", service.name);
        assert!(
            listed.iter().all(|row| row.name.starts_with(&prefix)),
            "{listed:?}"
        );
        let mut tasks: Vec<_> = service
            .tasks
            .iter()
            .map(|t| (t.slot, t.desired_state, t.state, t.exit_code))
            .collect();
        tasks.sort_by_key(|&(slot, desired, state, code)| {
            (slot, format!("{desired:?}"), format!("{state:?}"), code)
        });
        View {
            mode: service.mode,
            replicas: service.replicas,
            desired_tasks: service.desired_tasks,
            running_tasks: service.running_tasks,
            tasks,
            update_state: service.update_state,
            update_message: service.update_message.clone(),
            labels: service.labels.clone(),
            image: service.image.clone(),
            listed: listed.len(),
        }
    }
}

/// The simulation of the real service `name` as a scenario would describe
/// it: its name, mode and replica count, labels and image.
fn simulation_of(real: &Engine, name: &str) -> SimService {
    let found = block_on(real.service(name)).unwrap();
    let mut sim = SimService::new(name, found.replicas, now_ms());
    sim.model.service.labels = found.labels;
    sim.model.service.image = found.image;
    sim
}

/// One service on both engines, compared call by call.
struct Twins {
    real: Engine,
    simulated: Simulated,
    name: String,
    versions: (u64, u64),
}

impl Twins {
    fn of(service: &Service) -> Twins {
        let real = engine();
        let simulated = Simulated::new([]).with_services([simulation_of(&real, &service.name)]);
        let mut twins = Twins {
            real,
            simulated,
            name: service.name.clone(),
            versions: (0, 0),
        };
        twins.versions = twins.agree("as created");
        twins
    }

    /// Waits until the real service's view is the simulated one, for at
    /// most a minute (a rolling update of three tasks takes a few seconds),
    /// then fails showing both. Returns both versions.
    fn agree(&self, step: &str) -> (u64, u64) {
        let simulated = block_on(self.simulated.service(&self.name)).unwrap();
        let expected = View::of(&self.simulated, &simulated);
        let started = Instant::now();
        loop {
            let real = block_on(self.real.service(&self.name)).unwrap();
            let seen = View::of(&self.real, &real);
            if seen == expected {
                return (real.version, simulated.version);
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{step}: the swarm never settled where the simulation is\n\
                 simulated: {expected:#?}\nreal:      {seen:#?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Makes the same call on both, which must answer the same, then waits
    /// for the same state, and for the version to have moved (or not) on
    /// both alike.
    fn call(&mut self, step: &str, call: impl Fn(&dyn Docker) -> Result<(), DockerError>) {
        let real = call(&self.real);
        let simulated = call(&self.simulated);
        assert_eq!(real, simulated, "{step}: the answers differ");
        let (real_version, sim_version) = self.agree(step);
        assert_eq!(
            real_version > self.versions.0,
            sim_version > self.versions.1,
            "{step}: the version moved on one engine only ({:?} -> {:?})",
            self.versions,
            (real_version, sim_version)
        );
        self.versions = (real_version, sim_version);
    }
}

fn scale(
    name: &str,
    replicas: u64,
    labels: &[(&str, Option<&str>)],
) -> impl Fn(&dyn Docker) -> Result<(), DockerError> {
    let name = name.to_owned();
    let labels: Vec<(String, Option<String>)> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.map(str::to_owned)))
        .collect();
    move |docker| block_on(docker.scale(&name, replicas, &labels))
}

fn redeploy(name: &str) -> impl Fn(&dyn Docker) -> Result<(), DockerError> {
    let name = name.to_owned();
    move |docker| block_on(docker.redeploy(&name))
}

/// A rolling update watches each new task for a second, not Docker's five.
const QUICK_UPDATES: [&str; 2] = ["--update-monitor", "1s"];

#[test]
fn the_simulation_scales_and_redeploys_as_a_swarm_does() {
    let mut options = vec!["--replicas", "2"];
    options.extend(QUICK_UPDATES);
    let service = Service::create(&unique("sim-replicated"), &options, &[]);
    service.wait_running(2);
    let name = service.name.as_str();
    let mut twins = Twins::of(&service);
    let note = [("sme.note.replicas", Some("2"))];
    twins.call("scale to 0 with a note", scale(name, 0, &note));
    twins.call("the same scale again sends nothing", scale(name, 0, &note));
    twins.call("redeploy with no task", redeploy(name));
    twins.call(
        "scale to 3, the note removed",
        scale(name, 3, &[("sme.note.replicas", None)]),
    );
    twins.call("redeploy", redeploy(name));
    twins.call("scale down to 1", scale(name, 1, &[]));
    twins.call("scale up to 2 again", scale(name, 2, &[]));
    twins.call("scale down to 1 again", scale(name, 1, &[]));
    twins.call("a label only", scale(name, 1, &[("tier", Some("edge"))]));
}

#[test]
fn the_simulation_refuses_what_a_swarm_refuses_in_the_same_words() {
    let replicated = Service::replicated("sim-refusals", 1);
    let mut options = vec!["--mode", "global"];
    options.extend(QUICK_UPDATES);
    let global = Service::create(&unique("sim-global"), &options, &[]);
    global.wait_running(1);
    let id = block_on(engine().service(&replicated.name)).unwrap().id;
    let missing = format!("{}-missing", replicated.name);

    let mut twins = Twins::of(&global);
    twins.call("scale a global service", scale(&global.name, 2, &[]));
    twins.call("redeploy a global service", redeploy(&global.name));

    // Both engines know both services; the names asked for are not theirs.
    let real = engine();
    let simulated = Simulated::new([]).with_services([
        simulation_of(&real, &replicated.name),
        simulation_of(&real, &global.name),
    ]);
    for name in [missing.as_str(), &id, &id[..6], &replicated.name[..10]] {
        let engines: [&dyn Docker; 2] = [&real, &simulated];
        let [real_answer, simulated_answer] = engines.map(|docker| {
            (
                block_on(docker.service(name)).map(|_| ()),
                block_on(docker.scale(name, 1, &[])),
                block_on(docker.redeploy(name)),
            )
        });
        let not_found = Err(DockerError::NoService(name.to_owned()));
        assert_eq!(
            real_answer,
            (not_found.clone(), not_found.clone(), not_found),
            "{name}"
        );
        assert_eq!(simulated_answer, real_answer, "{name}");
        assert_eq!(
            DockerError::NoService(name.to_owned()).to_string(),
            format!("service {name} not found")
        );
    }
    // The listing filters on labels alike.
    let engines: [&dyn Docker; 2] = [&real, &simulated];
    let [real_rows, simulated_rows] = engines.map(|docker| {
        let rows = block_on(docker.services(Some("sme-test-service"))).unwrap();
        let mut names: Vec<String> = rows
            .into_iter()
            .map(|row| row.name)
            .filter(|name| *name == replicated.name || *name == global.name)
            .collect();
        names.sort();
        names
    });
    assert_eq!(real_rows.len(), 2, "{real_rows:?}");
    assert_eq!(simulated_rows, real_rows);
}

/// A scenario for `service` as the real one is: its name, replica count
/// and labels, under `[swarm] mode = "on"`.
fn scenario_of(sandbox: &Sandbox, service: &Service, operation: &str) -> String {
    let found = block_on(engine().service(&service.name)).unwrap();
    let placement = match found.replicas {
        Some(replicas) => format!("replicas = {replicas}"),
        None => "mode = \"global\"".to_owned(),
    };
    let labels: Vec<String> = found
        .labels
        .iter()
        .map(|(k, v)| format!("{k:?} = {v:?}"))
        .collect();
    let file = sandbox
        .root
        .join(format!("{operation}-{}.toml", service.name));
    std::fs::write(
        &file,
        format!(
            "[request]\nservice = \"{name}\"\noperation = \"{operation}\"\n\
             [swarm]\nmode = \"on\"\n\
             [[service]]\nname = \"{name}\"\n{placement}\nlabels = {{ {labels} }}\n[expect]\n",
            name = service.name,
            labels = labels.join(", "),
        ),
    )
    .unwrap();
    file.display().to_string()
}

/// A run's Docker calls as scenarios write them, a wait's repeated looks at
/// the service counted once (the real tasks take their time; the simulated
/// ones none).
fn calls_once(calls: &[serde_json::Value]) -> Vec<String> {
    let mut lines: Vec<String> = calls
        .iter()
        .filter(|c| !matches!(c["verb"].as_str(), Some("log" | "clock")))
        .map(|c| {
            format!(
                "{} {}",
                c["verb"].as_str().unwrap(),
                c["target"].as_str().unwrap()
            )
        })
        .collect();
    lines.dedup();
    lines
}

#[test]
fn default_policies_answer_the_simulation_as_they_answer_a_swarm() {
    // Waits of a redeploy take more than the default 100 host calls.
    let config = "[swarm]\nmode = \"on\"\n[limits]\nhost_calls = 400\n";
    let real_side = Sandbox::new();
    real_side.config(config);
    let simulated_side = Sandbox::new();
    simulated_side.config(config);
    let mut quick = vec!["--replicas", "2"];
    quick.extend(QUICK_UPDATES);
    let cases: [(&str, &str, Vec<&str>); 6] = [
        ("stop", "sim-pol-stop", vec!["--replicas", "2"]),
        ("stop", "sim-pol-stopped", vec!["--replicas", "0"]),
        (
            "start",
            "sim-pol-start",
            vec!["--replicas", "0", "--label", "sme.note.replicas=2"],
        ),
        ("restart", "sim-pol-restart", quick),
        ("stop", "sim-pol-global", vec!["--mode", "global"]),
        ("metrics", "sim-pol-metrics", vec!["--replicas", "0"]),
    ];
    for (operation, prefix, options) in cases {
        let service = Service::create(&unique(prefix), &options, &[]);
        let running = match options.as_slice() {
            ["--mode", "global"] => 1,
            ["--replicas", count, ..] => count.parse().unwrap(),
            _ => unreachable!(),
        };
        service.wait_running(running);
        let case = format!("{operation} of {prefix}");
        // The scenario describes the service as it is before the run.
        let file = scenario_of(&simulated_side, &service, operation);
        let ran = real_side.smectl(&["--json", "run", &service.name, operation]);
        let ran: serde_json::Value = serde_json::from_str(&ran.stdout).expect(&ran.stderr);
        let report = simulated_side.smectl(&["--json", "test", &file]);
        let report: serde_json::Value = serde_json::from_str(&report.stdout).unwrap();
        let test = &report["tests"][0];
        assert_eq!(test["error"], serde_json::Value::Null, "{case}: {report}");
        assert_eq!(test["output"], ran["output"], "{case}");
        assert_eq!(test["exit_code"], ran["exit_code"], "{case}");
        let simulated_calls: Vec<String> = test["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            calls_once(ran["host_calls"].as_array().unwrap()),
            simulated_calls,
            "{case}"
        );
    }
}

#[test]
fn a_dry_run_on_a_service_records_the_scale_and_leaves_it_running() {
    let service = Service::replicated("sim-dry", 2);
    let before = service.running_tasks();
    let sandbox = Sandbox::new();
    sandbox.config("[swarm]\nmode = \"on\"\n");
    let run = sandbox.smectl(&["run", &service.name, "stop", "--dry-run"]);
    assert_eq!((run.code, run.stderr.as_str()), (Some(0), ""), "{run:?}");
    assert!(
        run.stdout.contains(&format!(
            "would scale {} to 0 replicas, setting sme.note.replicas=2",
            service.name
        )),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("output: \"\""), "{}", run.stdout);

    let report = sandbox.smectl(&["--json", "run", &service.name, "restart", "--dry-run"]);
    let report: serde_json::Value = serde_json::from_str(&report.stdout).unwrap();
    assert_eq!(report["exit_code"], 0, "{report:#}");
    assert_eq!(
        report["recorded"],
        serde_json::json!([{"verb": "redeploy", "service": service.name}])
    );
    // The policy's wait saw the update the dry run would have made.
    let calls = calls_once(report["host_calls"].as_array().unwrap());
    assert_eq!(
        calls,
        [
            format!("inspect {}", service.name),
            format!("redeploy {}", service.name),
            format!("inspect {}", service.name)
        ]
    );
    assert_eq!(service.replicas(), "2");
    assert_eq!(
        service.running_tasks(),
        before,
        "a dry run changed the service"
    );
}

#[test]
fn a_recorded_run_on_a_service_replays_without_a_daemon() {
    let service = Service::replicated("sim-rec", 1);
    let sandbox = Sandbox::new();
    sandbox.config("[swarm]\nmode = \"on\"\n");
    let (run, recording, recorded) = sandbox.record(&service.name, "stop");
    let record = recording.display().to_string();
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(service.running_tasks().is_empty());
    assert_eq!(
        recorded.kept["sme_recording"],
        sme::backend::recording::RECORD_VERSION
    );
    let (kept, calls) = (&recorded.kept, &recorded.calls);
    assert_eq!(calls[..2], ["service", "scale"], "{calls:?}");
    assert!(
        calls[2..].iter().all(|call| *call == "service"),
        "{calls:?}"
    );
    assert_eq!(kept["calls"][1]["replicas"], 0);
    assert_eq!(
        kept["calls"][1]["labels"],
        serde_json::json!([["sme.note.replicas", "1"]])
    );

    let mut offline = Sandbox::new();
    let nowhere = format!("unix://{}", offline.root.join("no-docker.sock").display());
    offline.env("DOCKER_HOST", &nowhere);
    offline.config("[swarm]\nmode = \"on\"\n");
    let replay = offline.smectl(&["test", "--replay", &record]);
    assert_eq!(replay.code, Some(0), "{replay:?}");
    // Another configuration asks the container instead: the first call differs.
    offline.config("");
    let differs = offline.smectl(&["test", "--replay", &record]);
    assert_eq!(differs.code, Some(1), "{differs:?}");
    let first = format!("the recording has inspect service {}", service.name);
    assert!(
        differs
            .stdout
            .contains("Docker calls: call 1: the module asked ")
            && differs.stdout.contains(&first),
        "{differs:?}"
    );
}
