//! Effect budgets (docs/budgets.md): counted per object across `sme`
//! processes in the state directory, refused past the budget with the next
//! time allowed, failing closed, consulted by dry runs, shown and reset by
//! `smectl budgets`. (That a spend is kept even when the call then never
//! reaches the daemon is in `faults.rs`.)

use std::process::Stdio;

use crate::support::{Container, Sandbox};

const THREE_RESTARTS: &str = "[budgets]\nrestart = { max = 3, per = \"10m\" }\n";

/// The audit lines of host calls of `verb`, by decision.
fn decisions(sandbox: &Sandbox, verb: &str) -> (usize, usize, usize) {
    let lines = sandbox.audit();
    let count = |event: &str, decision: Option<&str>| {
        lines
            .iter()
            .filter(|l| l["event"] == event && l["verb"] == verb)
            .filter(|l| decision.is_none_or(|d| l["decision"] == d))
            .count()
    };
    (
        count("intent", None),
        count("host-call", Some("allow")),
        count("host-call", Some("limit")),
    )
}

#[test]
fn the_fourth_restart_within_ten_minutes_is_refused_until_an_operator_resets_it() {
    let container = Container::running("budget");
    let sandbox = Sandbox::new();
    sandbox.config(THREE_RESTARTS);
    for _ in 0..3 {
        sandbox
            .sme(&[&container.name, "restart"])
            .succeeds_with("\"\"");
    }
    let started = container.started_at();
    let refused = sandbox.sme(&[&container.name, "restart"]);
    let object = format!("container:{}", container.name);
    refused.fails_mentioning(&[
        &format!("budget restart (3 per 10m, [budgets]) is spent for {object}"),
        "the next restart is allowed at 20",
    ]);
    assert_eq!(container.started_at(), started, "nothing was sent");
    assert_eq!(
        decisions(&sandbox, "restart"),
        (3, 3, 1),
        "no intent for the refused one"
    );

    let shown = sandbox.smectl(&["budgets"]);
    assert_eq!(shown.code, Some(0), "{shown:?}");
    assert!(
        shown
            .stdout
            .contains("budget restart (3 per 10m, [budgets])")
            && shown
                .stdout
                .contains(&format!("{object}  restart  3 spent")),
        "{shown:?}"
    );

    let reset = sandbox.smectl(&["budgets", "--reset", &object, "restart"]);
    assert_eq!(reset.code, Some(0), "{reset:?}");
    assert_eq!(reset.stdout, format!("cleared restart of {object}\n"));
    let uid = rustix::process::getuid().as_raw();
    assert!(
        sandbox.audit().iter().any(|l| l["event"] == "notice"
            && l["detail"]
                .as_str()
                .is_some_and(|d| d.contains(&object) && d.contains(&format!("uid {uid}")))),
        "the reset is audited with the operator's uid"
    );
    sandbox
        .sme(&[&container.name, "restart"])
        .succeeds_with("\"\"");
}

#[test]
fn fifty_concurrent_restarts_under_a_budget_of_three_let_exactly_three_through() {
    let container = Container::running("budget-load");
    let sandbox = Sandbox::new();
    sandbox.config(THREE_RESTARTS);
    let children: Vec<_> = (0..50)
        .map(|_| {
            sandbox
                .command(env!("CARGO_BIN_EXE_sme"), &[&container.name, "restart"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut refused = 0;
    for child in children {
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(String::from_utf8_lossy(&output.stderr), "");
        if stdout.contains("budget restart (3 per 10m, [budgets]) is spent") {
            assert_eq!(output.status.code(), Some(1));
            refused += 1;
        }
    }
    assert_eq!(refused, 47);
    assert_eq!(decisions(&sandbox, "restart"), (3, 3, 47));
}

#[test]
fn budgets_are_counted_per_object_and_a_target_narrows_which() {
    let critical = Container::with_args("budget-critical", &["--label", "tier=critical"]);
    let other = Container::running("budget-other");
    let sandbox = Sandbox::new();
    sandbox.config(
        "[modules.stop.budgets]\nstop = { max = 1, per = \"1h\", target = \"label:tier=critical\" }\n",
    );
    for _ in 0..2 {
        sandbox.sme(&[&other.name, "stop"]).succeeds_with("\"\"");
        sandbox.sme(&[&other.name, "start"]).succeeds_with("\"\"");
    }
    sandbox.sme(&[&critical.name, "stop"]).succeeds_with("\"\"");
    sandbox
        .sme(&[&critical.name, "start"])
        .succeeds_with("\"\"");
    sandbox.sme(&[&critical.name, "stop"]).fails_mentioning(&[
        "budget stop (1 per 1h on label:tier=critical, [modules.stop.budgets]) is spent",
        &format!("container:{}", critical.name),
    ]);
    assert!(critical.is_running());
}

#[test]
fn without_a_usable_state_directory_a_budgeted_change_is_refused_and_others_go_on() {
    let container = Container::running("budget-nostate");
    let mut sandbox = Sandbox::new();
    sandbox.config(THREE_RESTARTS);
    sandbox.env("SME_STATE_DIR", "");
    sandbox
        .sme(&[&container.name, "restart"])
        .fails_mentioning(&["budgets cannot be kept: no state directory is configured"]);
    let check = sandbox.smectl(&["check"]);
    assert_eq!(check.code, Some(1), "{check:?}");
    assert!(
        (check.stdout.clone() + &check.stderr)
            .contains("every change a budget counts will be refused: budgets cannot be kept"),
        "{check:?}"
    );
    // Only what a budget counts needs the state directory.
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    sandbox
        .sme(&[&container.name, "start"])
        .succeeds_with("\"\"");

    let shared = std::env::temp_dir().join(format!("sme-budget-{}", std::process::id()));
    sandbox.env("SME_STATE_DIR", &shared.display().to_string());
    sandbox
        .sme(&[&container.name, "restart"])
        .fails_mentioning(&["budgets cannot be kept", "is unusable"]);
    assert_eq!(decisions(&sandbox, "restart"), (0, 0, 2));
    let _ = std::fs::remove_dir_all(shared);
}

#[test]
fn a_corrupt_or_removed_count_fails_closed_until_reset() {
    let container = Container::running("budget-corrupt");
    let sandbox = Sandbox::new();
    sandbox.config(THREE_RESTARTS);
    sandbox
        .sme(&[&container.name, "restart"])
        .succeeds_with("\"\"");
    let object = format!("container:{}", container.name);
    let file = sandbox
        .root
        .join("state/budgets")
        .join(sme::sandbox::ledger::file_name(&object));
    std::fs::write(&file, "{\"object\": 7").unwrap();
    sandbox
        .sme(&[&container.name, "restart"])
        .fails_mentioning(&["is corrupt", &format!("smectl budgets --reset {object}")]);
    let shown = sandbox.smectl(&["budgets"]);
    assert_eq!(shown.code, Some(1), "{shown:?}");
    assert!(shown.stdout.contains("is corrupt ("), "{shown:?}");
    std::fs::remove_file(&file).unwrap();
    let shown = sandbox.smectl(&["budgets"]);
    assert!(
        shown
            .stdout
            .contains("was removed (budgets/index lists it)"),
        "{shown:?}"
    );
    sandbox
        .sme(&[&container.name, "restart"])
        .fails_mentioning(&[
            "was removed (budgets/index lists it)",
            &format!("smectl budgets --reset {object}"),
        ]);
    let reset = sandbox.smectl(&["budgets", "--reset", &object]);
    assert_eq!(reset.code, Some(0), "{reset:?}");
    sandbox
        .sme(&[&container.name, "restart"])
        .succeeds_with("\"\"");
}

#[test]
fn a_dry_run_consults_budgets_and_spends_none() {
    let container = Container::running("budget-dry");
    let sandbox = Sandbox::new();
    sandbox.config("[budgets]\nrestart = { max = 1, per = \"1h\" }\n");
    for _ in 0..3 {
        let dry = sandbox.smectl(&["run", &container.name, "restart", "--dry-run"]);
        assert_eq!(dry.code, Some(0), "{dry:?}");
    }
    sandbox
        .sme(&[&container.name, "restart"])
        .succeeds_with("\"\"");
    let dry = sandbox.smectl(&["run", &container.name, "restart", "--dry-run"]);
    assert_eq!(dry.code, Some(1), "{dry:?}");
    assert!(
        dry.stdout
            .contains("budget restart (1 per 1h, [budgets]) is spent"),
        "{dry:?}"
    );
    let shown = sandbox.smectl(&["budgets"]).stdout;
    assert!(shown.contains("restart  1 spent"), "{shown}");
}

#[test]
fn a_bad_budget_is_refused_with_its_line() {
    let container = Container::running("budget-config");
    let sandbox = Sandbox::new();
    for (text, message) in [
        (
            "\n[budgets]\nexplode = { max = 1, per = \"1m\" }\n",
            "line 3",
        ),
        (
            "[budgets]\nrestart = { max = 0, per = \"1m\" }\n",
            "max = 0 is out of range",
        ),
        (
            "[budgets]\nrestart = { max = 1, per = \"soon\" }\n",
            "is not a duration",
        ),
        (
            "[modules.stop.budgets]\nstop = { max = 1, per = \"1m\", target = \"nope\" }\n",
            "[modules.stop] budgets: stop: unknown target",
        ),
    ] {
        sandbox.config(text);
        sandbox
            .sme(&[&container.name, "restart"])
            .fails_mentioning(&[message]);
    }
    assert!(container.is_running());
    sandbox.config("");
    let known = sandbox.smectl(&["budgets", "--reset", "container:x", "explode"]);
    assert_eq!(known.code, Some(1));
    assert!(
        known.stderr.contains("unknown effect \"explode\""),
        "{known:?}"
    );
}

/// `Mon`..`Sun` for `offset` days from today in UTC.
fn day_from_today(offset: i8) -> &'static str {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .weekday()
        .to_monday_zero_offset();
    DAYS[(today + offset).rem_euclid(7) as usize]
}

#[test]
fn a_change_outside_its_windows_is_refused_with_the_next_opening_and_needs_no_state() {
    let container = Container::running("window");
    let mut sandbox = Sandbox::new();
    let closed = day_from_today(3);
    let open = format!("{},{}", day_from_today(0), day_from_today(1));
    sandbox.config(&format!(
        "[windows]\nstop = \"{closed} 00:00-24:00 UTC\"\n\
         [modules.restart.windows]\nrestart = [\"{open} 00:00-24:00 UTC\", \"{closed} 01:00-02:00 Europe/Berlin\"]\n"
    ));
    sandbox.env("SME_STATE_DIR", "");
    sandbox.sme(&[&container.name, "stop"]).fails_mentioning(&[
        &format!("may not stop {} now: outside the stop windows of [windows] (\"{closed} 00:00-24:00 UTC\")", container.name),
        &format!("the next opens at {closed} 20"),
    ]);
    assert!(container.is_running());
    assert_eq!(decisions(&sandbox, "stop"), (0, 0, 1));
    let dry = sandbox.smectl(&["run", &container.name, "stop", "--dry-run"]);
    assert!(dry.stdout.contains("outside the stop windows"), "{dry:?}");
    sandbox
        .sme(&[&container.name, "restart"])
        .succeeds_with("\"\"");

    sandbox.config("[windows]\nstop = \"Sat 02:00-04:00 Mars/Olympus\"\n");
    sandbox
        .sme(&[&container.name, "stop"])
        .fails_mentioning(&["line 2", "\"Mars/Olympus\" is not a time zone"]);
}

#[test]
fn a_dry_run_shows_what_budgets_and_windows_say_and_the_audit_line_keeps_it() {
    let container = Container::running("budget-dry");
    let sandbox = Sandbox::new();
    sandbox.config(&format!(
        "{THREE_RESTARTS}[windows]\nrestart = \"Mon-Sun 00:00-24:00 UTC\"\n"
    ));
    sandbox
        .sme(&[&container.name, "restart"])
        .succeeds_with("\"\"");
    let dry = sandbox.smectl(&["run", &container.name, "restart", "--dry-run"]);
    assert!(
        dry.stdout.contains(
            "inside the restart windows of [windows] (\"Mon-Sun 00:00-24:00 UTC\"); \
             restart (3 per 10m, [budgets]): 1 of 3 spent"
        ),
        "{dry:?}"
    );
    let audited = sandbox
        .audit()
        .into_iter()
        .find(|l| l["event"] == "host-call" && l["verb"] == "restart")
        .unwrap();
    assert!(
        audited["limits"]
            .as_str()
            .is_some_and(|l| l.ends_with("restart (3 per 10m, [budgets]): 0 of 3 spent")),
        "{audited}"
    );
}
