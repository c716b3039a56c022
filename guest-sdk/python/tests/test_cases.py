"""The shared table of cases (``runtime/model/cases.json``) against the
Python fake's rules: the same cases the runtime's model, and so the Rust
SDK's fake, are held to."""

import json
import unittest
from pathlib import Path

from sme_guest import _model as model
from sme_guest import types as t

CASES = json.loads((Path(__file__).resolve().parents[3] / "runtime" / "model" / "cases.json").read_text())
ID = "0123abcd"
CREATED_MS = 1_000


def container(state: dict) -> t.Container:
    status = t.Status[state["status"].upper()]
    return t.Container(ID, "web", "busybox", status, model.is_up(status), t.Health[state["health"].upper()],
                       state["exit_code"], 0, 0, state["started_ms"], state["finished_ms"], [])


def pairs(value) -> list:
    return [(key, item) for key, item in value]


class Cases(unittest.TestCase):
    def test_patterns(self):
        for case in CASES["patterns"]:
            with self.subTest(case=case):
                if "valid" in case:
                    self.assertEqual(model.valid_pattern(case["pattern"]), case["valid"])
                else:
                    self.assertTrue(model.valid_pattern(case["pattern"]))
                    self.assertEqual(model.matches(case["pattern"], case["name"]), case["matches"])

    def test_labels(self):
        for case in CASES["labels"]:
            with self.subTest(case=case):
                self.assertEqual(model.label_matches(pairs(case["labels"]), case["selector"]), case["matches"])

    def test_notes(self):
        for case in CASES["notes"]:
            with self.subTest(case=case):
                if "refused" in case:
                    with self.assertRaises(t.InvalidArgument) as refused:
                        model.note_labels(pairs(case["notes"]))
                    self.assertEqual(refused.exception.message, case["refused"])
                else:
                    self.assertEqual(model.note_labels(pairs(case["notes"])), pairs(case["labels"]))

    def test_container_lifecycle(self):
        for case in CASES["lifecycle"]:
            with self.subTest(case=case):
                c = container(case["before"])
                if "refused" in case:
                    before = container(case["before"])
                    with self.assertRaises(t.Docker) as refused:
                        model.apply(case["op"], c, case["now_ms"])
                    self.assertEqual(refused.exception.message, case["refused"].replace("{id}", ID))
                    self.assertEqual(c, before)
                else:
                    model.apply(case["op"], c, case["now_ms"])
                    self.assertEqual(c, container(case["after"]))

    def test_swarm_services(self):
        for case in CASES["swarm"]:
            with self.subTest(case["description"]):
                deploy = case["deploy"]
                service = model.ServiceModel.deploy(
                    "web", deploy["replicas"], CREATED_MS, nodes=deploy.get("nodes", 1),
                    labels=pairs(deploy.get("labels", [])), failing=deploy.get("failing", False),
                    starts_after_ms=deploy.get("starts_after_ms", 0), stops_after_ms=deploy.get("stops_after_ms", 0))
                first = service.service.version
                now = CREATED_MS
                for step in case["steps"]:
                    now = CREATED_MS + step["at_ms"]
                    try:
                        if "scale" in step:
                            labels = model.note_labels(pairs(step.get("notes", [])))
                            service.scale(step["scale"], labels, now)
                        elif "redeploy" in step:
                            service.redeploy(now)
                        refused = None
                    except t.HostError as error:
                        refused = error.message
                    self.assertEqual(refused, step.get("refused"))
                shown = service.at(now)
                expect = case["expect"]
                self.assertEqual(shown.replicas, expect["replicas"])
                self.assertEqual((shown.desired_tasks, shown.running_tasks),
                                 (expect["desired_tasks"], expect["running_tasks"]))
                self.assertEqual(shown.version - first, expect["versions_added"])
                self.assertEqual(shown.update_state.name.lower().replace("_", "-"), expect["update_state"])
                message = expect["update_message"]
                if message.endswith("{task}"):
                    prefix = message[: -len("{task}")]
                    self.assertTrue(shown.update_message.startswith(prefix), shown.update_message)
                    self.assertIn(shown.update_message[len(prefix):], [k.id for k in shown.tasks])
                else:
                    self.assertEqual(shown.update_message, message)
                if "labels" in expect:
                    self.assertEqual(shown.labels, pairs(expect["labels"]))
                tasks = sorted(f"{k.slot if k.slot is not None else 'null'} {k.desired_state.name.lower()} "
                               f"{k.state.name.lower()}" for k in shown.tasks)
                want = sorted(f"{'null' if slot is None else slot} {desired} {state}"
                              for slot, desired, state in expect["tasks"])
                self.assertEqual(tasks, want)


if __name__ == "__main__":
    unittest.main()


class StateCases(unittest.TestCase):
    def test_state_keys(self):
        for case in CASES["state_keys"]:
            with self.subTest(case=case):
                try:
                    model.check_state_key(case["key"])
                    valid = True
                except t.InvalidArgument:
                    valid = False
                self.assertEqual(valid, case["valid"])

    def test_state_writes(self):
        for case in CASES["state_writes"]:
            with self.subTest(case=case):
                values = dict(case["values"])
                keys, size = case["bounds"]
                refusal = model.state_write(values, case["key"], case["value"], keys, size)
                if "refused" in case:
                    expected = ("keys", keys) if case["refused"] == "keys" else ("bytes", size, case["used"])
                    self.assertEqual(refusal, expected)
                    self.assertEqual(values, case["values"])
                else:
                    self.assertIsNone(refusal)
                    self.assertEqual(values, case["kept"])


class BudgetCases(unittest.TestCase):
    def test_budgets(self):
        for case in CASES["budgets"]:
            with self.subTest(case=case):
                self.assertEqual(model.next_allowed(case["max"], case["per_ms"], case["spent_ms"], case["now_ms"]),
                                 case["next_ms"])
