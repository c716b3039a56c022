//! How start, stop and restart change a systemd unit, as systemd's manager
//! changes it: the rules of the simulated units, held against a real
//! systemd by the runtime's integration tests (`tests/all/systemd.rs`).
//!
//! A unit here is a service whose process either runs until stopped
//! ([`Behaviour::Runs`]) or exits with an error as it starts
//! ([`Behaviour::Fails`], a `Type=oneshot` unit running `/bin/false`).
//! A masked unit refuses to start in systemd's words.

/// What a unit's process does when started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// It runs until stopped.
    Runs,
    /// It exits with an error status as it starts.
    Fails,
}

/// A unit's state, as systemd reports it (the parts policies use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// `LoadState`.
    pub load_state: &'static str,
    /// `ActiveState`.
    pub active_state: &'static str,
    /// `SubState`.
    pub sub_state: &'static str,
    /// The service's `Result`.
    pub result: &'static str,
    /// Whether a main process runs (`MainPID` is not 0).
    pub running: bool,
}

/// The signals whose death systemd counts as a clean exit of a service.
pub const CLEAN_SIGNALS: [i32; 4] = [1, 2, 13, 15];

/// The D-Bus error systemd answers a start of a masked unit with.
pub const MASKED_ERROR: &str = "org.freedesktop.systemd1.UnitMasked";

/// A job systemd refused, in its words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The D-Bus error name.
    pub name: &'static str,
    /// systemd's message.
    pub message: String,
}

/// One simulated unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitModel {
    /// Its name.
    pub name: String,
    /// What its process does.
    pub behaviour: Behaviour,
    /// Whether it is masked.
    pub masked: bool,
    state: State,
}

impl UnitModel {
    /// A loaded, inactive unit that was never started.
    pub fn new(name: &str, behaviour: Behaviour, masked: bool) -> UnitModel {
        UnitModel {
            name: name.to_owned(),
            behaviour,
            masked,
            state: State {
                load_state: if masked { "masked" } else { "loaded" },
                active_state: "inactive",
                sub_state: "dead",
                result: "success",
                running: false,
            },
        }
    }

    /// Its state now.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// `StartUnit`: the job's result, or systemd's refusal.
    pub fn start(&mut self) -> Result<&'static str, Refusal> {
        self.refuse_if_masked()?;
        Ok(match self.behaviour {
            Behaviour::Runs => {
                self.run();
                "done"
            }
            Behaviour::Fails => {
                self.settle("failed", "failed", "exit-code", false);
                "failed"
            }
        })
    }

    /// `StopUnit`: the job's result.
    pub fn stop(&mut self) -> &'static str {
        if self.state.active_state == "active" {
            self.settle("inactive", "dead", "success", false);
        }
        "done"
    }

    /// `RestartUnit`: the job's result, or systemd's refusal.
    pub fn restart(&mut self) -> Result<&'static str, Refusal> {
        self.refuse_if_masked()?;
        self.stop();
        self.start()
    }

    /// `KillUnit` with `signal`: a running process dies. A service killed
    /// by a signal systemd counts as a clean exit (`SIGHUP`, `SIGINT`,
    /// `SIGTERM`, `SIGPIPE`) ends inactive; by any other it fails with
    /// `signal`. Nothing changes for a unit whose process does not run.
    pub fn kill(&mut self, signal: i32) {
        if !self.state.running {
            return;
        }
        if CLEAN_SIGNALS.contains(&signal) {
            self.settle("inactive", "dead", "success", false);
        } else {
            self.settle("failed", "failed", "signal", false);
        }
    }

    fn run(&mut self) {
        self.settle("active", "running", "success", true);
    }

    /// Moves the unit to a state; its load state stays.
    fn settle(
        &mut self,
        active_state: &'static str,
        sub_state: &'static str,
        result: &'static str,
        running: bool,
    ) {
        self.state = State {
            load_state: self.state.load_state,
            active_state,
            sub_state,
            result,
            running,
        };
    }

    fn refuse_if_masked(&self) -> Result<(), Refusal> {
        if self.masked {
            return Err(Refusal {
                name: MASKED_ERROR,
                message: format!("Unit {} is masked.", self.name),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_unit_stops_and_restarts() {
        let mut unit = UnitModel::new("a.service", Behaviour::Runs, false);
        assert_eq!(unit.start(), Ok("done"));
        assert_eq!(
            (unit.state().active_state, unit.state().running),
            ("active", true)
        );
        assert_eq!(unit.stop(), "done");
        assert_eq!(unit.stop(), "done");
        assert_eq!(unit.state().sub_state, "dead");
        assert_eq!(unit.restart(), Ok("done"));
        assert_eq!(unit.state().active_state, "active");
    }

    #[test]
    fn a_failing_unit_ends_failed_and_a_masked_one_is_refused() {
        let mut broken = UnitModel::new("b.service", Behaviour::Fails, false);
        assert_eq!(broken.start(), Ok("failed"));
        assert_eq!(
            (broken.state().active_state, broken.state().result),
            ("failed", "exit-code")
        );
        let mut masked = UnitModel::new("m.service", Behaviour::Runs, true);
        assert_eq!(masked.start().unwrap_err().name, MASKED_ERROR);
        assert_eq!(masked.stop(), "done");
        assert_eq!(masked.state().load_state, "masked");
    }
}
