"""Unit tests of the Python SDK: the same cases as the Rust SDK's tests (the
expected strings are what Go's fmt and the reference executor print), the
docstring examples, and the example policies against the fake host."""

import doctest
import importlib
import sys
import unittest
from dataclasses import replace
from pathlib import Path

import sme_guest
from sme_guest import _model, edgex, figures, services, settings, systemd, testing, types, units
from sme_guest.edgex import Lifecycle
from sme_guest.types import (CpuReading, Denied, Docker, Failure, InvalidArgument, Level, Measurement, NotFound,
                             Refused, Sample, Status, TaskState, Timeout, UnitDenied, UnitError,
                             UnitInvalidArgument, UnitNotFound, UpdateState)

EXAMPLES = Path(__file__).resolve().parents[3] / "policies" / "python"


def sample(**fields):
    values = dict(cpu=CpuReading(1, 0, 0, 2), memory_usage=0, memory_limit=0, total_inactive_file=None,
                  inactive_file=None, network_rx=0, network_tx=0, block_read=0, block_write=0, pids=0)
    values.update(fields)
    return Sample(**values)


class Units(unittest.TestCase):
    def test_go_g_matches_go_fmt(self):
        cases = [
            (5.2343, 4, "5.234"), (5.0, 4, "5"), (1023.99, 4, "1024"), (1.5, 4, "1.5"),
            (100.0, 4, "100"), (999.6, 3, "1e+03"), (999.4, 3, "999"), (8.192, 3, "8.19"),
            (0.0001234, 3, "0.000123"), (0.00001234, 3, "1.23e-05"), (123456.0, 3, "1.23e+05"),
            (1.125, 3, "1.12"), (0.5, 1, "0.5"), (-2.5, 2, "-2.5"), (12.0, 1, "1e+01"),
        ]
        for value, precision, expected in cases:
            self.assertEqual(units.go_g(value, precision), expected, f"{value} with %.{precision}g")

    def test_sizes_and_percentages_match_docker(self):
        self.assertEqual([units.bytes_binary(v) for v in (0, 512, 1024, 5_488_247, 2_095_919_104)],
                         ["0B", "512B", "1KiB", "5.234MiB", "1.952GiB"])
        self.assertEqual([units.bytes_decimal(v) for v in (0, 999, 1000, 277_012, 999_600, 1_500_000)],
                         ["0B", "999B", "1kB", "277kB", "1e+03kB", "1.5MB"])
        self.assertEqual([units.percent(v) for v in (0.0, 100.0, 0.2616)], ["0.00%", "100.00%", "0.26%"])


class Figures(unittest.TestCase):
    def test_cpu_is_zero_unless_both_deltas_are_positive(self):
        previous = CpuReading(1, 100, 1_000, 2)
        self.assertEqual(figures.cpu_percent(previous, CpuReading(1, 100, 2_000, 2)), 0.0)
        self.assertEqual(figures.cpu_percent(previous, CpuReading(1, 200, 500, 2)), 0.0)

    def test_memory_subtracts_inactive_file_like_docker(self):
        self.assertEqual(figures.memory_used(sample(memory_usage=1_000, total_inactive_file=300, inactive_file=100)), 700.0)
        self.assertEqual(figures.memory_used(sample(memory_usage=1_000, total_inactive_file=5_000, inactive_file=100)), 900.0)
        self.assertEqual(figures.memory_used(sample(memory_usage=1_000, inactive_file=250)), 750.0)
        self.assertEqual(figures.memory_used(sample(memory_usage=1_000)), 1_000.0)

    def test_stopped_container_prints_docker_zeroes(self):
        raw = figures.Figures.of(Measurement(None, sample())).raw()
        self.assertEqual(raw.to_json(), '{"cpu_perc":"0.00%","mem_usage":"0B / 0B","mem_perc":"0.00%",'
                                        '"net_io":"0B / 0B","block_io":"0B / 0B","pids":"0"}')

    def test_raw_matches_the_reference_example(self):
        raw = figures.Figures.of(Measurement(None, sample(
            memory_usage=5_488_247, memory_limit=2_095_919_104, network_rx=277_000,
            network_tx=194_000, block_read=8_192, pids=14))).raw()
        self.assertEqual((raw.mem_usage, raw.mem_perc, raw.net_io, raw.block_io, raw.pids),
                         ("5.234MiB / 1.952GiB", "0.26%", "277kB / 194kB", "8.19kB / 0B", "14"))

    def test_json_strings_are_escaped(self):
        self.assertEqual(figures.json_string('a"b\\c\n'), '"a\\"b\\\\c\\u000a"')

    def test_metric_fields_read_numbers_back_like_the_reference(self):
        self.assertEqual([edgex.percent_value(t) for t in ("5.08%", "0.00%", "--")], [5.08, 0.0, -1.0])
        self.assertEqual([edgex.memory_bytes(t) for t in ("5.234MiB", "512B", "0B", "1.5KiB", "1.952GiB", "--", "12")],
                         [5_488_247, 512, 0, 1536, 2_095_944_040, -1, -1])


class Edgex(unittest.TestCase):
    def test_counted_metrics_are_the_reference_fields(self):
        testing.Scene().container("edgex-core-data", cpu_percent=12.5, memory=(688_128, 1 << 30)).install()
        fields = {m.name: m.value for m in edgex.metrics_counted("edgex-core-data", 5000, 250)}
        self.assertEqual(fields, {m.name: m.value for m in edgex.metrics_within("edgex-core-data", 5000)})
        self.assertEqual(fields["cpuUsedPercent"], types.Number(12.5))
        testing.Scene().install()
        with self.assertRaises(Failure) as raised:
            edgex.metrics_counted("edgex-x", 5000, 250)
        self.assertEqual(raised.exception.text, "exit status 1: Error response from daemon: No such container: edgex-x\n")

    def test_state_checks_use_the_reference_texts(self):
        self.assertEqual(edgex.expect_state(Lifecycle.START, True), '""')
        self.assertEqual(edgex.expect_state(Lifecycle.STOP, False), '""')
        for action, running, text in [
            (Lifecycle.START, False, "Error starting service: service is not running but should be"),
            (Lifecycle.RESTART, False, "Error restarting service: service is not running but should be"),
            (Lifecycle.STOP, True, "Error stopping service: service is running but shouldn't be"),
        ]:
            with self.assertRaises(Failure) as raised:
                edgex.expect_state(action, running)
            self.assertEqual(raised.exception.text, text)

    def test_failure_texts_are_the_reference_texts(self):
        missing = NotFound("No such container: svc")
        self.assertEqual(edgex.failure(Lifecycle.STOP, "svc", missing),
                         "exit status 1: Error response from daemon: No such container: svc\n")
        self.assertEqual(edgex.failure(Lifecycle.START, "svc", missing),
                         "exit status 1: Error response from daemon: No such container: svc\n"
                         "Error: failed to start containers: svc\n")
        paused = Docker("cannot start a paused container, try unpause instead")
        self.assertEqual(edgex.failure(Lifecycle.START, "svc", paused),
                         "exit status 1: Error response from daemon: cannot start a paused container, try unpause instead\n"
                         "Error: failed to start containers: svc\n")
        self.assertEqual(edgex.failure(Lifecycle.STOP, "svc", Timeout("cannot reach the Docker Engine")),
                         "Error stopping service: cannot reach the Docker Engine")
        self.assertEqual(edgex.failure(Lifecycle.RESTART, "svc", Denied("module stop may not stop svc")),
                         "Error restarting service: module stop may not stop svc")

    def test_a_long_grace_period_is_capped_and_logged(self):
        testing.Scene().container("edgex-core-data", stop_timeout=30).install()
        self.assertEqual(edgex.lifecycle_within(Lifecycle.STOP, "edgex-core-data", 5), '""')
        self.assertEqual(testing.timeouts(), [("stop edgex-core-data", 5)])
        [(level, message)] = testing.logs()
        self.assertEqual(level, Level.WARN)
        self.assertIn("shortened from 30 s to 5 s", message)

    def test_a_gone_container_is_the_reference_inspect_text(self):
        testing.Scene().install()
        with self.assertRaises(Failure) as raised:
            edgex.verify(Lifecycle.STOP, "edgex-x")
        self.assertEqual(raised.exception.text, "Error stopping service: exit status 1: []\nError: No such object: edgex-x\n")


class Services(unittest.TestCase):
    def test_target_is_none_unless_the_scene_names_a_service(self):
        testing.Scene().install()
        self.assertIsNone(services.target())
        testing.Scene().swarm_target("edgex-core-data").install()
        self.assertEqual(services.target(), "edgex-core-data")
        self.assertEqual(testing.calls(), [])

    def test_scale_keeps_notes_and_changes_the_tasks(self):
        testing.Scene().service("edgex-core-data", replicas=3).install()
        services.scale("edgex-core-data", 0, [("replicas", "3")])
        stopped = services.inspect("edgex-core-data")
        self.assertEqual((stopped.replicas, stopped.running_tasks, stopped.note("replicas")), (0, 0, "3"))
        self.assertEqual(stopped.label("sme.note.replicas"), "3")
        services.scale("edgex-core-data", 2, [("replicas", None)])
        started = testing.service_state("edgex-core-data")
        self.assertEqual((started.replicas, started.running_tasks, started.note("replicas")), (2, 2, None))
        self.assertEqual(started.version, 12)
        services.scale("edgex-core-data", 2)
        self.assertEqual(testing.service_state("edgex-core-data").version, 12, "nothing to change, nothing sent")
        self.assertEqual(testing.calls(), ["scale edgex-core-data", "inspect edgex-core-data",
                                           "scale edgex-core-data", "scale edgex-core-data"])

    def test_redeploy_replaces_every_task(self):
        testing.Scene().service("edgex-core-data", replicas=2).install()
        before = {k.id for k in services.inspect("edgex-core-data").tasks}
        services.redeploy("edgex-core-data")
        after = services.inspect("edgex-core-data")
        running = {k.id for k in after.tasks if k.state == TaskState.RUNNING}
        self.assertEqual(len(running), 2)
        self.assertFalse(running & before)
        self.assertEqual((after.version, after.update_state), (11, UpdateState.COMPLETED))

    def test_failing_tasks_never_run(self):
        testing.Scene().service("edgex-core-data", replicas=2, failing=True).install()
        service = services.inspect("edgex-core-data")
        self.assertEqual((service.desired_tasks, service.running_tasks), (2, 0))
        failed = [k for k in service.tasks if k.state == TaskState.FAILED]
        self.assertEqual({k.err for k in failed}, {"task: non-zero exit (1)"})
        # As Docker does: a retry waits in each slot.
        self.assertEqual(sorted((k.slot, k.state) for k in service.tasks if k not in failed),
                         [(1, TaskState.READY), (2, TaskState.READY)])
        self.assertEqual(services.task_stats("edgex-core-data", 5000), [])

    def test_refusals_are_the_engines(self):
        testing.Scene().service("edgex-ui", None).service("edgex-core-data").deny("redeploy", "edgex-core-data") \
            .install()
        with self.assertRaises(InvalidArgument) as raised:
            services.scale("edgex-ui", 2)
        self.assertEqual(raised.exception.message,
                         "service edgex-ui is global: it runs one task per node and has no replica count to scale")
        with self.assertRaises(NotFound) as raised:
            services.inspect("edgex-x")
        self.assertEqual(raised.exception.message, "service edgex-x not found")
        with self.assertRaises(Denied):
            services.redeploy("edgex-core-data")
        self.assertEqual(testing.calls(), ["scale edgex-ui", "inspect edgex-x", "redeploy edgex-core-data denied"])

    def test_task_stats_and_listings(self):
        testing.Scene().service("edgex-core-data", replicas=2, cpu_percent=2.5, memory=(1024, 4096),
                                labels={"tier": "core"}).service("edgex-ui", None).install()
        measured = services.task_stats("edgex-core-data", 5000)
        self.assertEqual(len(measured), 2)
        self.assertAlmostEqual(figures.Figures.of(measured[0].measurement).cpu_percent, 2.5)
        self.assertEqual([row.name for row in services.list_services(services.Filter(label="tier=core"))],
                         ["edgex-core-data"])
        self.assertEqual([row.replicas for row in services.list_services()], [2, None])


class Swarm(unittest.TestCase):
    """The reference operations on a service, as the Rust SDK's edgex does them."""

    SVC = "edgex-core-data"

    def on(self, **service):
        testing.Scene().service(self.SVC, **service).swarm_target(self.SVC).install()

    def test_stop_scales_to_zero_and_notes_the_count_then_writes_nothing(self):
        self.on(replicas=2)
        self.assertEqual(edgex.lifecycle(Lifecycle.STOP, self.SVC), '""')
        stopped = testing.service_state(self.SVC)
        self.assertEqual((stopped.replicas, stopped.running_tasks, stopped.note("replicas")), (0, 0, "2"))
        self.assertEqual(edgex.lifecycle(Lifecycle.STOP, self.SVC), '""')
        self.assertEqual(testing.calls().count(f"scale {self.SVC}"), 1)

    def test_start_restores_the_noted_count_or_one(self):
        testing.Scene().service(self.SVC, replicas=0, labels={"sme.note.replicas": "3"}) \
            .swarm_target(self.SVC).install()
        self.assertEqual(edgex.lifecycle(Lifecycle.START, self.SVC), '""')
        started = testing.service_state(self.SVC)
        self.assertEqual((started.replicas, started.running_tasks, started.note("replicas")), (3, 3, None))
        self.on(replicas=0)
        self.assertEqual(edgex.lifecycle(Lifecycle.START, self.SVC), '""')
        self.assertEqual(testing.service_state(self.SVC).replicas, 1)

    def test_restart_redeploys_and_a_stopped_service_is_started(self):
        self.on(replicas=2)
        self.assertEqual(edgex.lifecycle(Lifecycle.RESTART, self.SVC), '""')
        self.assertIn(f"redeploy {self.SVC}", testing.calls())
        self.on(replicas=0)
        self.assertEqual(edgex.lifecycle(Lifecycle.RESTART, self.SVC), '""')
        self.assertEqual(testing.service_state(self.SVC).replicas, 1)

    def test_failing_tasks_and_global_services_are_reported(self):
        self.on(replicas=0, failing=True)
        with self.assertRaises(Failure) as failed:
            edgex.lifecycle(Lifecycle.START, self.SVC)
        self.assertEqual(failed.exception.text, "Error starting service: service is not running but should be")
        self.on(replicas=2, failing=True)
        with self.assertRaises(Failure) as failed:
            edgex.lifecycle(Lifecycle.RESTART, self.SVC)
        self.assertTrue(failed.exception.text.startswith("Error restarting service: update paused: "))
        self.on(replicas=None)
        with self.assertRaises(Failure) as failed:
            edgex.lifecycle(Lifecycle.STOP, self.SVC)
        self.assertEqual(failed.exception.text, f"Error stopping service: service {self.SVC} is global "
                         "(one task per node): SME stops only replicated services")

    def test_missing_and_denied_services_use_the_reference_frame(self):
        testing.Scene().swarm_target("edgex-x").install()
        with self.assertRaises(Failure) as failed:
            edgex.lifecycle(Lifecycle.START, "edgex-x")
        self.assertEqual(failed.exception.text,
                         "exit status 1: Error response from daemon: service edgex-x not found\n")
        testing.Scene().service(self.SVC).swarm_target(self.SVC).deny("scale", self.SVC).install()
        with self.assertRaises(Failure) as failed:
            edgex.lifecycle(Lifecycle.STOP, self.SVC)
        self.assertTrue(failed.exception.text.startswith("Error stopping service: module under test may not scale"))
        self.assertEqual(testing.service_state(self.SVC).replicas, 1)

    def test_metrics_sum_the_tasks_and_count_them(self):
        self.on(replicas=2, cpu_percent=2.5, memory=(1 << 20, 1 << 30))
        fields = {m.name: m.value for m in edgex.metrics_within(self.SVC, 5000)}
        self.assertEqual(list(fields), ["cpuUsedPercent", "memoryUsed", "raw", "desiredTasks", "runningTasks",
                                        "measuredTasks"])
        self.assertEqual(fields["cpuUsedPercent"].value, 5.0)
        self.assertEqual(fields["memoryUsed"].value, 2 << 20)
        self.assertEqual([fields[k].value for k in ("desiredTasks", "runningTasks", "measuredTasks")], [2, 2, 2])

    def test_no_target_keeps_the_container_path(self):
        testing.Scene().container("edgex-core-data").install()
        self.assertEqual(edgex.lifecycle(Lifecycle.STOP, "edgex-core-data"), '""')
        self.assertNotIn("scale", " ".join(testing.calls()))


UNIT = "snap.edgexfoundry.core-data.service"


class UnitModel(unittest.TestCase):
    """The rules of ``runtime/model/src/units.rs``, case for case."""

    def test_a_running_unit_stops_and_restarts(self):
        unit = _model.UnitModel("a.service", _model.RUNS)
        self.assertEqual(unit.start(), "done")
        self.assertEqual((unit.state.active_state, unit.state.running), ("active", True))
        self.assertEqual(unit.stop(), "done")
        self.assertEqual(unit.stop(), "done")
        self.assertEqual(unit.state.sub_state, "dead")
        self.assertEqual(unit.restart(), "done")
        self.assertEqual(unit.state.active_state, "active")

    def test_a_failing_unit_ends_failed_and_a_masked_one_is_refused(self):
        broken = _model.UnitModel("b.service", _model.FAILS)
        self.assertEqual(broken.start(), "failed")
        self.assertEqual((broken.state.active_state, broken.state.result), ("failed", "exit-code"))
        masked = _model.UnitModel("m.service", _model.RUNS, masked=True)
        with self.assertRaises(Refused) as refused:
            masked.start()
        self.assertEqual(refused.exception.refusal, types.Refusal(_model.MASKED_ERROR, "Unit m.service is masked."))
        self.assertEqual(masked.stop(), "done")
        self.assertEqual(masked.state.load_state, "masked")

    def test_kill_ends_a_running_process_cleanly_or_with_signal(self):
        for signal, expected in [(15, ("inactive", "dead", "success")), (1, ("inactive", "dead", "success")),
                                 (9, ("failed", "failed", "signal"))]:
            unit = _model.UnitModel("a.service")
            unit.start()
            unit.kill(signal)
            self.assertEqual((unit.state.active_state, unit.state.sub_state, unit.state.result), expected)
        idle = _model.UnitModel("a.service")
        idle.kill(9)
        self.assertEqual(idle.state.active_state, "inactive")

    def test_unit_names_are_systemds_syntax_without_instances_or_escapes(self):
        for name in (UNIT, "edgex-core-data.service", "a:b_c.timer"):
            self.assertTrue(_model.is_unit_name(name), name)
        for name in ("core-data", ".service", "x.unknown", "getty@tty1.service", "a\\x2db.service", "a b.service",
                     "a/../b.service", "é.service", "a" * 250 + ".service"):
            self.assertFalse(_model.is_unit_name(name), name)


class Systemd(unittest.TestCase):
    """The systemd wrapper against the fake's units."""

    def test_target_is_off_on_or_auto(self):
        testing.Scene().install()
        self.assertIsNone(systemd.target())
        testing.Scene().systemd_target(UNIT).install()
        self.assertEqual(systemd.target(), UNIT)
        self.assertEqual(testing.calls(), [])
        testing.Scene().unit(testing.unit(UNIT)).systemd_auto(UNIT).install()
        self.assertEqual(systemd.target(), UNIT)
        self.assertEqual(testing.calls(), [f"inspect {UNIT}"])
        testing.Scene().systemd_auto(UNIT).install()
        self.assertIsNone(systemd.target())
        testing.Scene().unit(testing.unit(UNIT)).systemd_auto(UNIT).deny("inspect", UNIT).install()
        with self.assertRaises(UnitDenied):
            systemd.target()

    def test_errors_are_the_runtimes(self):
        testing.Scene().install()
        with self.assertRaises(UnitNotFound) as raised:
            systemd.inspect("edgex-x.service")
        self.assertEqual(raised.exception.message, "Unit edgex-x.service not found.")
        self.assertEqual(raised.exception.kind, "not-found")
        with self.assertRaises(UnitInvalidArgument) as raised:
            systemd.start("edgex-x")
        self.assertEqual(raised.exception.message, '"edgex-x" is not a valid unit name')
        with self.assertRaises(InvalidArgument):
            systemd.list("a b")
        # A unit error is a HostError of its kind too.
        self.assertIsInstance(raised.exception, UnitError)
        self.assertIsInstance(raised.exception, types.HostError)

    def test_start_stop_restart_change_the_unit(self):
        testing.Scene().unit(testing.unit(UNIT).inactive()).install()
        before = systemd.inspect(UNIT)
        self.assertEqual((before.active_state, before.sub_state, before.main_pid, before.since_ms),
                         ("inactive", "dead", 0, None))
        started = systemd.start(UNIT)
        self.assertEqual((started.result, started.unit.active_state, started.unit.sub_state),
                         ("done", "active", "running"))
        self.assertEqual(started.unit.since_ms, testing.NOW_MS)
        restarted = systemd.restart(UNIT)
        self.assertNotEqual(restarted.unit.main_pid, started.unit.main_pid)
        stopped = systemd.stop(UNIT)
        self.assertEqual((stopped.result, stopped.unit.active_state, stopped.unit.main_pid, stopped.unit.result),
                         ("done", "inactive", 0, "success"))
        self.assertEqual(testing.calls(), [f"inspect {UNIT}", f"start {UNIT}", f"restart {UNIT}", f"stop {UNIT}"])
        self.assertEqual(testing.kill_afters(), [(f"restart {UNIT}", None), (f"stop {UNIT}", None)])

    def test_a_sigterm_ignoring_unit_waits_for_timeout_stop_sec_without_a_bound(self):
        testing.Scene().unit(testing.unit(UNIT).ignores_sigterm()).install()
        stopped = systemd.stop(UNIT)
        self.assertEqual((stopped.result, stopped.unit.active_state, stopped.unit.result),
                         ("done", "failed", "timeout"))
        self.assertEqual(testing.unit_state(UNIT).since_ms, testing.NOW_MS + testing.STOP_TIMEOUT_MS)

    def test_kill_is_checked_as_stop(self):
        testing.Scene().unit(testing.unit(UNIT)).unit(testing.unit("a.service").ignores_sigterm()) \
            .deny("stop", "b.service").unit(testing.unit("b.service")).install()
        systemd.kill(UNIT, 9)
        self.assertEqual((testing.unit_state(UNIT).active_state, testing.unit_state(UNIT).result),
                         ("failed", "signal"))
        systemd.kill("a.service", 15)
        self.assertEqual(testing.unit_state("a.service").active_state, "active")
        with self.assertRaises(UnitDenied):
            systemd.kill("b.service", 15)
        with self.assertRaises(UnitInvalidArgument) as raised:
            systemd.kill("a.service", 0)
        self.assertEqual(raised.exception.message, "signal 0 is not a signal number from 1 to 64")
        self.assertEqual(testing.calls(), [f"stop {UNIT}", "stop a.service", "stop b.service denied",
                                           "stop a.service"])

    def test_listings_hold_the_loaded_units(self):
        testing.Scene().unit(testing.unit("snap.edgexfoundry.b.service")) \
            .unit(testing.unit("snap.edgexfoundry.a.service")) \
            .unit(testing.unit("snap.edgexfoundry.idle.service").inactive()) \
            .unit(testing.unit("snap.edgexfoundry.hidden.service")).unit(testing.unit("other.service")) \
            .deny("list", "snap.edgexfoundry.hidden.service").install()
        self.assertEqual([u.name for u in systemd.list("snap.edgexfoundry.*")],
                         ["snap.edgexfoundry.a.service", "snap.edgexfoundry.b.service"])

    def test_stats_measure_the_scenes_rate_while_running(self):
        testing.Scene().unit(testing.unit(UNIT).cpu(50.0).memory(4096).tasks(3).io(10, 20)) \
            .unit(testing.unit("idle.service").inactive()).install()
        measured = systemd.stats(UNIT, 5000, 250)
        self.assertEqual(measured.now.read_ns - measured.previous.read_ns, 250_000_000)
        self.assertEqual(figures.unit_cpu_percent(measured.previous, measured.now), 50.0)
        self.assertEqual((measured.now.memory_bytes, measured.now.tasks, measured.now.io_read_bytes,
                          measured.now.io_write_bytes, measured.now.ip_egress_bytes), (4096, 3, 10, 20, None))
        idle = systemd.stats("idle.service", 5000, 250)
        self.assertEqual((idle.previous, idle.now.cpu_ns, idle.now.memory_bytes, idle.now.tasks),
                         (None, None, None, None))
        # Counters that started within the window have nothing to measure against.
        systemd.restart(UNIT)
        self.assertIsNone(systemd.stats(UNIT, 5000, 250).previous)


class UnitOperations(unittest.TestCase):
    """The reference operations on a systemd unit, as the Rust SDK's edgex does them."""

    SVC = "edgex-core-data"

    def on(self, unit, *extra):
        scene = testing.Scene().unit(unit).systemd_target(unit.name)
        for more in extra:
            scene = scene.unit(more)
        scene.install()
        return scene

    def failure(self, call):
        with self.assertRaises(Failure) as failed:
            call()
        return failed.exception.text

    def test_start_stop_restart_of_running_and_inactive_units(self):
        self.on(testing.unit(UNIT).inactive())
        self.assertEqual(edgex.lifecycle(Lifecycle.START, self.SVC), '""')
        self.assertEqual(testing.unit_state(UNIT).active_state, "active")
        self.assertEqual(edgex.lifecycle(Lifecycle.RESTART, self.SVC), '""')
        self.assertEqual(edgex.lifecycle(Lifecycle.STOP, self.SVC), '""')
        self.assertEqual(testing.unit_state(UNIT).active_state, "inactive")
        self.assertEqual(edgex.lifecycle(Lifecycle.STOP, self.SVC), '""')
        self.assertEqual(edgex.lifecycle(Lifecycle.RESTART, self.SVC), '""')
        self.assertEqual(testing.unit_state(UNIT).active_state, "active")
        self.assertEqual(testing.calls(), [f"start {UNIT}", f"restart {UNIT}", f"stop {UNIT}", f"stop {UNIT}",
                                           f"restart {UNIT}"])
        self.assertEqual(testing.kill_afters()[0], (f"restart {UNIT}", edgex.DEFAULT_GRACE_CAP * 1000))
        self.on(testing.unit(UNIT))
        self.assertEqual(edgex.lifecycle(Lifecycle.START, self.SVC), '""')
        self.assertEqual(testing.unit_state(UNIT).since_ms, testing.STARTED_MS, "a running unit is left alone")

    def test_a_failing_unit_is_reported_with_systemds_words(self):
        self.on(testing.unit(UNIT).fails())
        self.assertEqual(self.failure(lambda: edgex.lifecycle(Lifecycle.START, self.SVC)),
                         "Error starting service: service is not running but should be "
                         f"(unit {UNIT} is failed/failed, result exit-code, job failed)")
        self.assertEqual(self.failure(lambda: edgex.lifecycle(Lifecycle.RESTART, self.SVC)),
                         "Error restarting service: service is not running but should be "
                         f"(unit {UNIT} is failed/failed, result exit-code, job failed)")
        self.assertEqual(edgex.lifecycle(Lifecycle.STOP, self.SVC), '""')

    def test_a_unit_still_running_after_a_stop_is_reported(self):
        running = types.Unit(UNIT, "loaded", "deactivating", "stop-sigterm", "success", 1234, testing.NOW_MS)
        self.assertEqual(self.failure(lambda: edgex.expect_unit_state(Lifecycle.STOP, types.Job("timeout", running))),
                         "Error stopping service: service is running but shouldn't be "
                         f"(unit {UNIT} is deactivating/stop-sigterm, result success, job timeout)")
        reloading = replace(running, active_state="reloading", sub_state="reload")
        self.assertEqual(edgex.expect_unit_state(Lifecycle.START, types.Job("done", reloading)), '""')
        activating = replace(running, active_state="activating", sub_state="start")
        self.assertIn("service is not running but should be",
                      self.failure(lambda: edgex.expect_unit_state(Lifecycle.START, types.Job("done", activating))))

    def test_a_masked_unit_is_refused_in_systemds_words(self):
        self.on(testing.unit("x.service").masked())
        self.assertEqual(self.failure(lambda: edgex.lifecycle(Lifecycle.START, self.SVC)),
                         "Error starting service: org.freedesktop.systemd1.UnitMasked: Unit x.service is masked.")
        self.assertEqual(self.failure(lambda: edgex.lifecycle(Lifecycle.RESTART, self.SVC)),
                         "Error restarting service: org.freedesktop.systemd1.UnitMasked: Unit x.service is masked.")
        self.assertEqual(testing.unit_state("x.service").active_state, "inactive")

    def test_a_unit_ignoring_sigterm_is_killed_at_the_grace_cap(self):
        self.on(testing.unit(UNIT).ignores_sigterm())
        self.assertEqual(edgex.lifecycle_within(Lifecycle.STOP, self.SVC, 5), '""')
        self.assertEqual(testing.kill_afters(), [(f"stop {UNIT}", 5000)])
        self.assertEqual(sme_guest.clock.now_ms(), testing.NOW_MS + 5000)
        stopped = testing.unit_state(UNIT)
        self.assertEqual((stopped.active_state, stopped.result, stopped.main_pid), ("failed", "signal", 0))
        self.on(testing.unit(UNIT).ignores_sigterm())
        self.assertEqual(edgex.lifecycle_within(Lifecycle.RESTART, self.SVC, 3), '""')
        self.assertEqual(sme_guest.clock.now_ms(), testing.NOW_MS + 3000)
        self.assertEqual(testing.unit_state(UNIT).active_state, "active")

    def test_a_denied_stop_changes_nothing(self):
        self.on(testing.unit(UNIT)).deny("stop", UNIT).install()
        text = self.failure(lambda: edgex.lifecycle(Lifecycle.STOP, self.SVC))
        self.assertEqual(text, f"Error stopping service: module under test may not stop {UNIT}: "
                               "the test's scene denies it")
        self.assertEqual(testing.unit_state(UNIT).active_state, "active")
        self.assertEqual(testing.unit_state(UNIT).since_ms, testing.STARTED_MS)
        self.assertEqual(testing.calls(), [f"stop {UNIT} denied"])
        self.assertEqual(testing.kill_afters(), [])

    def test_auto_mode_takes_the_unit_only_when_systemd_has_it(self):
        testing.Scene().unit(testing.unit(UNIT)).container(self.SVC).systemd_auto(UNIT).install()
        self.assertEqual(edgex.lifecycle(Lifecycle.STOP, self.SVC), '""')
        self.assertEqual(testing.calls(), [f"inspect {UNIT}", f"stop {UNIT}"])
        self.assertEqual(testing.state(self.SVC).status, Status.RUNNING)
        testing.Scene().container(self.SVC).systemd_auto(UNIT).install()
        self.assertEqual(edgex.lifecycle(Lifecycle.STOP, self.SVC), '""')
        self.assertEqual(testing.calls(), [f"inspect {UNIT}", f"inspect {self.SVC}", f"stop {self.SVC}",
                                           f"inspect {self.SVC}"])
        self.assertEqual(testing.state(self.SVC).status, Status.EXITED)

    def test_failing_to_tell_is_reported(self):
        testing.Scene().systemd_auto(UNIT).deny("inspect", UNIT).install()
        denied = f"module under test may not inspect {UNIT}: the test's scene denies it"
        self.assertEqual(self.failure(lambda: edgex.lifecycle(Lifecycle.STOP, self.SVC)),
                         f"Error stopping service: {denied}")
        self.assertEqual(self.failure(lambda: edgex.metrics(self.SVC)), denied)

    def test_the_systemd_target_is_asked_before_the_swarm_one(self):
        testing.Scene().unit(testing.unit(UNIT)).service(self.SVC, replicas=2).systemd_target(UNIT) \
            .swarm_target(self.SVC).install()
        self.assertEqual(edgex.lifecycle(Lifecycle.STOP, self.SVC), '""')
        self.assertEqual(testing.calls(), [f"stop {UNIT}"])
        self.assertEqual(testing.service_state(self.SVC).replicas, 2)
        fields = [m.name for m in edgex.metrics(self.SVC)]
        self.assertEqual(fields, ["cpuUsedPercent", "memoryUsed", "raw"])

    def test_metrics_are_the_reference_fields_from_systemds_counters(self):
        self.on(testing.unit(UNIT).cpu(12.5).memory(5_488_247).tasks(14).io(8_192, 0).ip(277_000, 194_000))
        for measure in (lambda: edgex.metrics(self.SVC), lambda: edgex.metrics_within(self.SVC, 5000),
                        lambda: edgex.metrics_counted(self.SVC, 5000, 250)):
            fields = {m.name: m.value for m in measure()}
            self.assertEqual(fields, {
                "cpuUsedPercent": types.Number(12.5),
                "memoryUsed": types.Integer(5_488_247),
                "raw": types.Json('{"cpu_perc":"12.50%","mem_usage":"5.234MiB / 0B","mem_perc":"0.00%",'
                                  '"net_io":"277kB / 194kB","block_io":"8.19kB / 0B","pids":"14"}'),
            })
        self.assertEqual(testing.calls(), [f"stats {UNIT}"] * 3)

    def test_metrics_of_a_stopped_or_missing_unit(self):
        self.on(testing.unit(UNIT).inactive())
        fields = {m.name: m.value for m in edgex.metrics(self.SVC)}
        self.assertEqual((fields["cpuUsedPercent"], fields["memoryUsed"]), (types.Number(0.0), types.Integer(0)))
        self.assertEqual(fields["raw"].value, '{"cpu_perc":"0.00%","mem_usage":"0B / 0B","mem_perc":"0.00%",'
                                              '"net_io":"0B / 0B","block_io":"0B / 0B","pids":"0"}')
        testing.Scene().systemd_target(UNIT).install()
        self.assertEqual(self.failure(lambda: edgex.metrics_counted(self.SVC, 5000, 250)),
                         f"Unit {UNIT} not found.")

    def test_the_unit_metrics_sample_the_default_policys_way(self):
        self.on(testing.unit(UNIT).cpu(1.0))
        calls = []
        original = systemd.stats

        def spy(name, max_age_ms, window_ms):
            calls.append((name, max_age_ms, window_ms))
            return original(name, max_age_ms, window_ms)

        edgex.systemd.stats = spy
        try:
            edgex.metrics(self.SVC)
            edgex.metrics_within(self.SVC, 2000)
            edgex.metrics_counted(self.SVC, 3000, 500)
        finally:
            edgex.systemd.stats = original
        self.assertEqual(calls, [(UNIT, edgex.RECENT_WINDOW_MS, 250), (UNIT, 2000, 250), (UNIT, 3000, 500)])


def load_example(directory, module):
    """Imports an example policy afresh (each module exports one function)."""
    sme_guest._EXPORTED = None
    sys.path.insert(0, str(EXAMPLES / directory))
    try:
        sys.modules.pop(module, None)
        return importlib.import_module(module)
    finally:
        sys.path.pop(0)
        settings._DECLARED.clear()


class Examples(unittest.TestCase):
    def test_stop_uses_the_grace_cap_setting(self):
        stop = load_example("stop", "stop").stop
        testing.Scene().container("edgex-core-data", stop_timeout=30).setting("grace_cap_s", "5").install()
        self.assertEqual(stop(testing.request("edgex-core-data", "stop")), '""')
        self.assertEqual(testing.calls(), ["inspect edgex-core-data", "stop edgex-core-data", "inspect edgex-core-data"])
        self.assertEqual(testing.timeouts(), [("stop edgex-core-data", 5)])
        self.assertEqual(testing.state("edgex-core-data").status, Status.EXITED)

    def test_protected_stop_refuses_by_name_and_label(self):
        stop = load_example("protected-stop", "protected_stop").stop
        testing.Scene().container("edgex-redis").container("edgex-app", labels={"com.example.keep": "true"}) \
            .setting("protected_label", "com.example.keep").install()
        for service in ("edgex-redis", "edgex-app"):
            with self.assertRaises(Failure) as raised:
                stop(testing.request(service, "stop"))
            self.assertEqual(raised.exception.text, f"Error stopping service: {service} is protected and may not be stopped")
        self.assertEqual(testing.calls(), ["inspect edgex-app"])
        self.assertEqual(testing.state("edgex-redis").status, Status.RUNNING)

    def test_backoff_restart_refuses_inside_the_wait_and_doubles_it(self):
        restart = load_example("backoff-restart", "backoff_restart").restart
        testing.Scene().container("edgex-core-data").install()
        request = testing.request("edgex-core-data", "restart")
        self.assertEqual(restart(request), '""')
        self.assertEqual(testing.kept(), {"backoff:edgex-core-data": f"{testing.NOW_MS} 30000"})
        testing.advance(10_000)
        with self.assertRaisesRegex(sme_guest.Failure, "restarted 10 s ago, the next restart is allowed in 20 s"):
            restart(request)
        testing.advance(20_000)
        self.assertEqual(restart(request), '""')
        self.assertEqual(testing.kept(), {"backoff:edgex-core-data": f"{testing.NOW_MS + 30_000} 60000"})

    def test_uptime_reports_uptime_and_restarts(self):
        uptime = load_example("uptime", "uptime").uptime
        testing.Scene().container("edgex-core-data", restart_count=3).install()
        self.assertEqual(uptime(testing.request("edgex-core-data", "metrics")),
                         {"uptimeSeconds": 3_600, "restartCount": 3})
        self.assertEqual(sme_guest.metric_list({"restartCount": 3}), [types.Metric("restartCount", types.Integer(3))])


class State(unittest.TestCase):
    def test_kept_values_follow_the_runtimes_rules(self):
        from sme_guest import state
        testing.Scene().state("a", "1").state_limits(2, 1).install()
        self.assertEqual(state.get("a"), "1")
        self.assertFalse(state.compare_and_set("a", None, "2"), "stale")
        self.assertTrue(state.compare_and_set("b", None, "2"))
        with self.assertRaisesRegex(types.LimitExceeded, "state_keys"):
            state.compare_and_set("c", None, "3")
        with self.assertRaisesRegex(types.LimitExceeded, "state_kib"):
            state.compare_and_set("a", "1", "x" * 1024)
        with self.assertRaises(types.InvalidArgument):
            state.get("")
        self.assertEqual(state.keys(), ["a", "b"])
        self.assertIsNone(state.update("b", lambda _: None))
        self.assertEqual(testing.kept(), {"a": "1"})
        self.assertEqual(testing.calls(), [], "state calls name no container")


def load_tests(loader, tests, ignore):
    for module in (sme_guest, types, units, figures, edgex, settings, testing,
                   importlib.import_module("sme_guest.containers"), importlib.import_module("sme_guest.stats"),
                   importlib.import_module("sme_guest.clock"), importlib.import_module("sme_guest.log"),
                   importlib.import_module("sme_guest.container_config"), importlib.import_module("sme_guest.cpu_window"),
                   importlib.import_module("sme_guest.counters"), services, importlib.import_module("sme_guest.swarm"),
                   systemd, importlib.import_module("sme_guest.state")):
        tests.addTests(doctest.DocTestSuite(module))
    return tests


if __name__ == "__main__":
    unittest.main()
