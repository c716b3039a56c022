"""Unit tests of the Python SDK: the same cases as the Rust SDK's tests (the
expected strings are what Go's fmt and the reference executor print), the
docstring examples, and the example policies against the fake host."""

import doctest
import importlib
import sys
import unittest
from pathlib import Path

import sme_guest
from sme_guest import edgex, figures, services, settings, testing, types, units
from sme_guest.edgex import Lifecycle
from sme_guest.types import (CpuReading, Denied, Docker, Failure, InvalidArgument, Level, Measurement, NotFound,
                             Sample, Status, TaskState, Timeout, UpdateState)

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

    def test_uptime_reports_uptime_and_restarts(self):
        uptime = load_example("uptime", "uptime").uptime
        testing.Scene().container("edgex-core-data", restart_count=3).install()
        self.assertEqual(uptime(testing.request("edgex-core-data", "metrics")),
                         {"uptimeSeconds": 3_600, "restartCount": 3})
        self.assertEqual(sme_guest.metric_list({"restartCount": 3}), [types.Metric("restartCount", types.Integer(3))])


def load_tests(loader, tests, ignore):
    for module in (sme_guest, types, units, figures, edgex, settings, testing,
                   importlib.import_module("sme_guest.containers"), importlib.import_module("sme_guest.stats"),
                   importlib.import_module("sme_guest.clock"), importlib.import_module("sme_guest.log"),
                   importlib.import_module("sme_guest.container_config"), importlib.import_module("sme_guest.cpu_window"),
                   importlib.import_module("sme_guest.counters"), services, importlib.import_module("sme_guest.swarm")):
        tests.addTests(doctest.DocTestSuite(module))
    return tests


if __name__ == "__main__":
    unittest.main()
