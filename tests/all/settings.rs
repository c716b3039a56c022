//! Module settings (`[modules.<name>.settings]`) and the WIT's
//! compatibility promise: a component built against the first WIT still runs.

use sme_test_artifacts as guests;

use crate::support::{Container, Sandbox};

#[test]
fn an_unknown_setting_refuses_the_module_naming_module_key_and_line() {
    let container = Container::running("settings-unknown");
    let sandbox = Sandbox::new();
    sandbox.config("[limits]\nfuel = 2000000000\n\n[modules.stop.settings]\ngrace_cap = 5\n");
    let run = sandbox.sme(&[&container.name, "stop"]);
    let path = sandbox.root.join("sme.toml");
    run.fails_with(&format!(
        "configuration {}, line 5: [modules.\"stop\".settings] `grace_cap` is not a setting of module stop (it declares grace_cap_s, swarm_wait_ms)",
        path.display()
    ));
    assert!(container.is_running(), "nothing ran");
    let check = sandbox.smectl(&["check"]);
    assert_eq!(check.code, Some(1), "{check:?}");
    assert!(
        check
            .stdout
            .contains("`grace_cap` is not a setting of module stop"),
        "{check:?}"
    );
}

#[test]
fn a_setting_out_of_its_declared_range_is_refused() {
    let container = Container::running("settings-range");
    let sandbox = Sandbox::new();
    sandbox.config("[modules.metrics.settings]\ncpu_window_ms = 500\n");
    sandbox.sme(&[&container.name, "metrics"]).fails_mentioning(&[
        "line 2: [modules.\"metrics\".settings] `cpu_window_ms` = 500 is out of range: expected an integer from 1000 to 120000",
    ]);
    sandbox.config("[modules.metrics.settings]\ncpu_window_ms = \"fast\"\n");
    sandbox
        .sme(&[&container.name, "metrics"])
        .fails_mentioning(&["`cpu_window_ms` must be an integer from 1000 to 120000"]);
}

#[test]
fn inspect_shows_declared_settings_and_configured_values() {
    let sandbox = Sandbox::new();
    sandbox.config("[modules.stop.settings]\nprotected_label = \"com.example.keep\"\n");
    let run = sandbox.smectl(&["inspect", guests::PROTECTED_STOP, "--as", "stop"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout
            .contains("protected_label      = com.example.keep (configured, line 2)  [string]"),
        "{}",
        run.stdout
    );
    let run = sandbox.smectl(&["inspect", guests::DEFAULT_STOP, "--as", "stop", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let setting = &report["settings"][0];
    assert_eq!(setting["name"], "grace_cap_s");
    assert_eq!(setting["type"], "integer 0..=10");
    assert_eq!(setting["default"], "10");
    assert!(setting["configured"].is_null());
    assert!(
        report["problems"][0]
            .as_str()
            .unwrap()
            .contains("`protected_label` is not a setting of module stop"),
        "{report}"
    );
}

#[test]
fn the_protected_label_is_a_setting() {
    let keep = Container::with_args("settings-keep", &["--label", "com.example.keep=true"]);
    let sandbox = Sandbox::new();
    sandbox.install(guests::PROTECTED_STOP, "stop.wasm");
    // Only the label the setting names protects it.
    sandbox.config("[modules.stop.settings]\nprotected_label = \"com.example.keep\"\n");
    sandbox.sme(&[&keep.name, "stop"]).fails_with(&format!(
        "Error stopping service: {} is protected and may not be stopped",
        keep.name
    ));
    assert!(keep.is_running());
}

#[test]
fn a_component_built_against_the_first_wit_still_runs() {
    let container = Container::running("old-wit");
    let sandbox = Sandbox::new();
    sandbox.install(guests::OLD_WIT, "stop.wasm");
    sandbox
        .sme(&[&container.name, "stop"])
        .succeeds_with("\"\"");
    assert!(!container.is_running());
    let check = sandbox.smectl(&["check"]);
    assert_eq!(check.code, Some(0), "{check:?}");
}
