//! A daemon that misbehaves: `sme` talks to the real Docker Engine through a
//! fault-injecting proxy that forwards every request and breaks only what a
//! case names (a connection cut after the request was sent, an answer that
//! never comes, a truncated or non-JSON body, HTTP 500, a daemon restarting).
//! For each: one line, the right exit code, an audit log that says what was
//! sent, nothing printed that claims a change that did not happen, and an
//! answer inside the agent's 20 s.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::support::{Container, Sandbox};

/// The daemon the proxy forwards to.
const DAEMON: &str = "/var/run/docker.sock";

/// The agent's time limit for one executor run.
const AGENT_LIMIT: Duration = Duration::from_secs(20);

/// What the proxy does to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Forwards the request, so the daemon carries it out, then closes the
    /// connection without the answer.
    Cut,
    /// Closes the connection without forwarding anything.
    Drop,
    /// Forwards the request, then keeps the connection open and silent.
    Hang,
    /// Forwards the request and sends back half of the daemon's answer.
    Truncate,
    /// Answers `200 OK` with an HTML page, forwarding nothing.
    NotJson,
    /// Answers HTTP 500, with the Engine's JSON message or an empty body,
    /// forwarding nothing.
    ServerError(Option<&'static str>),
}

/// Which request a fault applies to: the `nth` (from 1), counted from when
/// the rule was made, whose method is `method` and whose path contains
/// `path`.
#[derive(Debug)]
struct Rule {
    method: &'static str,
    path: String,
    nth: usize,
    fault: Fault,
    seen: usize,
}

#[derive(Debug, Default)]
struct State {
    rules: Vec<Rule>,
    /// Until when the proxy takes no connection; whether its socket is
    /// removed meanwhile (as a stopping daemon does) or left (refused).
    down: Option<(Instant, bool)>,
    /// Every request seen: `METHOD path`.
    seen: Vec<String>,
}

/// A fault-injecting proxy listening on a socket in a sandbox.
struct Proxy {
    socket: PathBuf,
    state: Arc<Mutex<State>>,
    closing: Arc<AtomicBool>,
}

impl Proxy {
    fn start(sandbox: &mut Sandbox) -> Proxy {
        let socket = sandbox.root.join("docker.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        listener.set_nonblocking(true).unwrap();
        let proxy = Proxy {
            socket: socket.clone(),
            state: Arc::default(),
            closing: Arc::default(),
        };
        let (state, closing) = (proxy.state.clone(), proxy.closing.clone());
        std::thread::spawn(move || serve(listener, &socket, &state, &closing));
        sandbox.env("DOCKER_HOST", &format!("unix://{}", proxy.socket.display()));
        proxy
    }

    /// Breaks the `nth` request `method path...` with `fault`.
    fn break_nth(&self, method: &'static str, path: &str, nth: usize, fault: Fault) {
        self.lock().rules.push(Rule {
            method,
            path: path.to_owned(),
            nth,
            fault,
            seen: 0,
        });
    }

    /// Takes no connection for `time`, with the socket removed (`gone`) or
    /// left in place (connections refused).
    fn down_for(&self, time: Duration, gone: bool) {
        self.lock().down = Some((Instant::now() + time, gone));
    }

    /// The requests seen so far.
    fn seen(&self) -> Vec<String> {
        self.lock().seen.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.closing.store(true, Ordering::Relaxed);
    }
}

fn serve(listener: UnixListener, socket: &Path, state: &Arc<Mutex<State>>, closing: &AtomicBool) {
    let mut listener = Some(listener);
    while !closing.load(Ordering::Relaxed) {
        let down = state.lock().unwrap_or_else(PoisonError::into_inner).down;
        match (down, &listener) {
            (Some((until, gone)), Some(_)) if Instant::now() < until => {
                // Dropping the listener leaves its file: a connection to it
                // is refused. A daemon that stops removes the file too.
                listener = None;
                if gone {
                    let _ = std::fs::remove_file(socket);
                }
            }
            (Some((until, _)), None) if Instant::now() >= until => {
                let _ = std::fs::remove_file(socket);
                let back = UnixListener::bind(socket).unwrap();
                back.set_nonblocking(true).unwrap();
                listener = Some(back);
            }
            _ => {}
        }
        let accepted = listener.as_ref().map(UnixListener::accept);
        match accepted {
            Some(Ok((client, _))) => {
                let state = state.clone();
                std::thread::spawn(move || {
                    client.set_nonblocking(false).unwrap();
                    if let Some(request) = read_request(&client) {
                        let fault = fault_for(&state, &request);
                        answer(client, &request, fault);
                    }
                });
            }
            _ => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// One request as read from a client: its head and body, and the line that
/// names it.
struct Request {
    method: String,
    path: String,
    bytes: Vec<u8>,
}

/// Reads one request; its head is rewritten to ask for `Connection: close`,
/// so every request has a connection of its own and every answer ends at
/// the end of its connection.
fn read_request(mut client: &UnixStream) -> Option<Request> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_owned(), first.next()?.to_owned());
    let mut length = 0;
    let mut bytes = format!("{method} {path} HTTP/1.1\r\n").into_bytes();
    for line in lines.filter(|line| !line.is_empty()) {
        let lower = line.to_ascii_lowercase();
        if let Some(value) = lower.strip_prefix("content-length:") {
            length = value.trim().parse().ok()?;
        }
        if !lower.starts_with("connection:") {
            bytes.extend_from_slice(format!("{line}\r\n").as_bytes());
        }
    }
    bytes.extend_from_slice(b"Connection: close\r\n\r\n");
    let mut body = vec![0u8; length];
    client.read_exact(&mut body).ok()?;
    bytes.extend_from_slice(&body);
    Some(Request {
        method,
        path,
        bytes,
    })
}

fn fault_for(state: &Mutex<State>, request: &Request) -> Option<Fault> {
    let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
    state
        .seen
        .push(format!("{} {}", request.method, request.path));
    let mut fault = None;
    for rule in &mut state.rules {
        if rule.method == request.method && request.path.contains(&rule.path) {
            rule.seen += 1;
            if rule.seen == rule.nth {
                fault = Some(rule.fault);
            }
        }
    }
    fault
}

/// The daemon's whole answer to `request`.
fn forward(request: &Request) -> Vec<u8> {
    let mut daemon = UnixStream::connect(DAEMON).unwrap();
    daemon.write_all(&request.bytes).unwrap();
    let mut answer = Vec::new();
    daemon.read_to_end(&mut answer).unwrap();
    answer
}

fn answer(mut client: UnixStream, request: &Request, fault: Option<Fault>) {
    let canned = |status: &str, kind: &str, body: &str| {
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    };
    let reply = match fault {
        None => forward(request),
        Some(Fault::Cut) => {
            forward(request);
            return;
        }
        Some(Fault::Drop) => return,
        Some(Fault::Hang) => {
            forward(request);
            // Silent until the client gives up and closes.
            let _ = client.read(&mut [0u8; 1]);
            return;
        }
        Some(Fault::Truncate) => {
            let mut whole = forward(request);
            let head = whole
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map_or(0, |at| at + 4);
            whole.truncate(head + (whole.len() - head) / 2);
            whole
        }
        Some(Fault::NotJson) => canned(
            "200 OK",
            "text/html",
            "<html><body>502 Bad Gateway</body></html>",
        ),
        Some(Fault::ServerError(message)) => {
            let body = message.map_or(String::new(), |m| format!("{{\"message\":\"{m}\"}}"));
            canned("500 Internal Server Error", "application/json", &body)
        }
    };
    let _ = client.write_all(&reply);
}

/// The audit lines of `verb` calls and intents, in order.
fn calls(sandbox: &Sandbox, verb: &str) -> Vec<serde_json::Value> {
    sandbox
        .audit()
        .into_iter()
        .filter(|line| line["verb"] == verb)
        .collect()
}

/// A running container that stops at once on SIGTERM, with a short grace
/// period of its own, behind a fresh proxy.
fn scene(prefix: &str) -> (Container, Sandbox, Proxy) {
    let container = Container::with_args(prefix, &["--stop-timeout", "2"]);
    let mut sandbox = Sandbox::new();
    let proxy = Proxy::start(&mut sandbox);
    (container, sandbox, proxy)
}

fn stop_path(container: &Container) -> String {
    format!("/containers/{}/stop", container.name)
}

fn inspect_path(container: &Container) -> String {
    format!("/containers/{}/json", container.name)
}

#[test]
fn the_proxy_alone_changes_nothing() {
    let (container, sandbox, proxy) = scene("fault-none");
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    assert!(!container.is_running());
    let seen = proxy.seen();
    assert!(
        seen.iter()
            .any(|line| line.contains(&stop_path(&container))),
        "{seen:?}"
    );
}

#[test]
fn a_stop_whose_answer_is_cut_is_found_done_by_a_fresh_inspection() {
    let (container, sandbox, proxy) = scene("fault-cut");
    proxy.break_nth("POST", &stop_path(&container), 1, Fault::Cut);
    let run = sandbox.sme(&[&container.name, "stop"]);
    run.succeeds_with("\"\"");
    assert!(run.elapsed < AGENT_LIMIT, "{run:?}");
    assert!(!container.is_running());
    let lines = calls(&sandbox, "stop");
    assert_eq!(lines[0]["event"], "intent", "{lines:?}");
    let call = &lines[1];
    assert_eq!(call["result"], "ok", "{call}");
    let settled = call["settled"].as_str().unwrap();
    assert!(
        settled.contains("was lost") && settled.contains("a fresh inspection shows it exited"),
        "{settled}"
    );
    // A request that may have arrived is never sent again.
    let stops = proxy
        .seen()
        .iter()
        .filter(|line| line.starts_with("POST") && line.contains(&stop_path(&container)))
        .count();
    assert_eq!(stops, 1);
}

#[test]
fn a_stop_that_never_reached_the_daemon_is_not_claimed() {
    let (container, sandbox, proxy) = scene("fault-drop");
    proxy.break_nth("POST", &stop_path(&container), 1, Fault::Drop);
    let run = sandbox.sme(&[&container.name, "stop"]);
    run.fails_mentioning(&[
        "Error stopping service: stop of ",
        "was lost",
        "a fresh inspection shows it running, so the stop cannot be said to have happened",
    ]);
    assert!(run.elapsed < AGENT_LIMIT, "{run:?}");
    assert!(container.is_running());
    let lines = calls(&sandbox, "stop");
    assert_eq!(lines[0]["event"], "intent", "{lines:?}");
    assert_eq!(lines[1]["result"], "timeout", "{lines:?}");
}

#[test]
fn a_budget_is_spent_before_the_call_so_a_stop_that_never_arrived_still_counts() {
    let (container, sandbox, proxy) = scene("fault-budget");
    sandbox.config("[budgets]\nstop = { max = 1, per = \"1h\" }\n");
    proxy.break_nth("POST", &stop_path(&container), 1, Fault::Drop);
    sandbox
        .sme(&[&container.name, "stop"])
        .fails_mentioning(&["was lost"]);
    assert!(container.is_running());
    sandbox
        .sme(&[&container.name, "stop"])
        .fails_mentioning(&["budget stop (1 per 1h, [budgets]) is spent for container:"]);
    assert!(container.is_running());
    let shown = sandbox.smectl(&["budgets"]).stdout;
    assert!(
        shown.contains(&format!("container:{}  stop  1 spent", container.name)),
        "{shown}"
    );
}

#[test]
fn a_stop_whose_answer_never_comes_is_settled_inside_the_agents_limit() {
    let (container, sandbox, proxy) = scene("fault-hang");
    proxy.break_nth("POST", &stop_path(&container), 1, Fault::Hang);
    let run = sandbox.sme(&[&container.name, "stop"]);
    run.succeeds_with("\"\"");
    assert!(run.elapsed < AGENT_LIMIT, "{run:?}");
    assert!(!container.is_running());
    let call = calls(&sandbox, "stop").pop().unwrap();
    let settled = call["settled"].as_str().unwrap();
    assert!(
        settled.contains("no answer came within the 12000 ms")
            && settled.contains("shows it exited"),
        "{settled}"
    );
}

#[test]
fn a_restart_whose_answer_is_cut_counts_only_once_it_started_again() {
    let (container, sandbox, proxy) = scene("fault-restart");
    let before = container.started_at();
    let path = format!("/containers/{}/restart", container.name);
    proxy.break_nth("POST", &path, 1, Fault::Cut);
    let run = sandbox.sme(&[&container.name, "restart"]);
    run.succeeds_with("\"\"");
    assert!(container.is_running());
    assert_ne!(container.started_at(), before);
    let call = calls(&sandbox, "restart").pop().unwrap();
    assert!(
        call["settled"]
            .as_str()
            .unwrap()
            .contains("shows it running"),
        "{call}"
    );
}

#[test]
fn a_truncated_or_non_json_answer_stops_the_run_before_any_change() {
    for fault in [Fault::Truncate, Fault::NotJson] {
        let (container, sandbox, proxy) = scene("fault-body");
        // The default stop policy reads the container's grace period first.
        proxy.break_nth("GET", &inspect_path(&container), 1, fault);
        let run = sandbox.sme(&[&container.name, "stop"]);
        run.fails_mentioning(&["Error stopping service: "]);
        assert!(!run.stdout.starts_with("exit status"), "{run:?}");
        assert!(container.is_running(), "{fault:?}");
        assert!(
            calls(&sandbox, "stop").is_empty(),
            "{fault:?}: nothing sent"
        );
        // Metrics read the same inspection.
        proxy.break_nth("GET", &inspect_path(&container), 1, fault);
        let run = sandbox.sme(&[&container.name, "metrics"]);
        assert_eq!(run.code, Some(1), "{run:?}");
        assert!(
            !run.stdout.contains('\n') && run.stderr.is_empty(),
            "{run:?}"
        );
    }
}

#[test]
fn http_500_is_the_daemons_refusal_with_its_message_and_a_protocol_error_without() {
    let (container, sandbox, proxy) = scene("fault-500");
    proxy.break_nth(
        "POST",
        &stop_path(&container),
        1,
        Fault::ServerError(Some("cannot stop container: injected")),
    );
    sandbox
        .sme(&[&container.name, "stop"])
        .fails_with("exit status 1: Error response from daemon: cannot stop container: injected\n");
    assert!(container.is_running());
    proxy.break_nth("POST", &stop_path(&container), 1, Fault::ServerError(None));
    let run = sandbox.sme(&[&container.name, "stop"]);
    run.fails_mentioning(&[
        "Error stopping service: ",
        "answered HTTP 500 with no message",
    ]);
    assert!(container.is_running());
    let results: Vec<_> = calls(&sandbox, "stop")
        .iter()
        .filter(|line| line["event"] == "host-call")
        .map(|line| line["result"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(results, ["docker", "timeout"]);
}

#[test]
fn a_restarting_daemon_is_waited_for_briefly_then_reported() {
    let (container, sandbox, proxy) = scene("fault-restarting");
    // Back within the reconnect window: the stop goes through.
    proxy.down_for(Duration::from_millis(1500), true);
    std::thread::sleep(Duration::from_millis(50));
    let run = sandbox.sme(&[&container.name, "stop"]);
    run.succeeds_with("\"\"");
    assert!(run.elapsed >= Duration::from_millis(1200), "{run:?}");
    assert!(!container.is_running());
    container.start_again();
    // Refused for longer: one line, nothing sent, well inside the limit.
    proxy.down_for(Duration::from_secs(8), false);
    std::thread::sleep(Duration::from_millis(50));
    let run = sandbox.sme(&[&container.name, "stop"]);
    run.fails_mentioning(&[
        "Error stopping service: cannot reach the Docker Engine at unix://",
        "(tried for 3 s)",
    ]);
    assert!(run.elapsed < Duration::from_secs(8), "{run:?}");
    assert!(container.is_running());
    let sent = calls(&sandbox, "stop");
    assert_eq!(sent.len(), 2, "only the first stop was sent: {sent:?}");
}
