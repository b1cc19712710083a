"""deploy/grafana and deploy/prometheus: the dashboard and the alert rules use exactly edlae-server's metric names,
and docs/operations.md explains every alert."""

import json
import os
import re
import unittest

import edlae_testing

edlae_testing.require_modules("yaml")
import yaml  # noqa: E402

SOURCE = os.environ.get("EDLAE_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
# edlae-server's Prometheus metrics (name → type), as the server exports them on --metrics_address /metrics.
METRICS = {
    "edlae_requests_total": "counter",
    "edlae_request_latency_seconds": "histogram",
    "edlae_inflight_requests": "gauge",
    "edlae_shed_requests_total": "counter",
    "edlae_model_version": "gauge",
    "edlae_model_info": "gauge",
    "edlae_model_load_seconds": "gauge",
    "edlae_model_reloads_total": "counter",
    "edlae_unknown_items_total": "counter",
    "edlae_batch_size": "histogram",
    "edlae_model_config_reloads_total": "counter",
}
# Every series of one served model carries model="<name>" (--model_config name, or --model_name).
LABELS = {
    "edlae_requests_total": {"method", "code", "model"},
    "edlae_request_latency_seconds": {"method", "le", "model"},
    "edlae_shed_requests_total": {"method"},
    "edlae_model_version": {"model"},
    "edlae_model_info": {"fingerprint", "kind", "model"},
    "edlae_model_load_seconds": {"model"},
    "edlae_model_reloads_total": {"result", "model"},
    "edlae_batch_size": {"le"},
    "edlae_model_config_reloads_total": {"result"},
}


def edlae_metrics(expr: str) -> list[tuple[str, str]]:
    """(series name, selector text) for every edlae_* series an expression reads."""
    return [(m.group(1), m.group(2) or "") for m in re.finditer(r"\b(edlae_[a-z_]+)(\{[^}]*\})?", expr)]


def base_metric(series: str) -> str:
    for suffix in ("_bucket", "_sum", "_count"):
        if series.endswith(suffix) and METRICS.get(series[: -len(suffix)]) == "histogram":
            return series[: -len(suffix)]
    return series


class ExpressionChecks(unittest.TestCase):
    def check_expr(self, expr: str, where: str) -> set[str]:
        """Asserts balanced brackets, known metrics used as their type allows, known labels; returns the metrics."""
        for open_, close in ("()", "{}", "[]"):
            self.assertEqual(expr.count(open_), expr.count(close), f"{where}: unbalanced {open_}{close}: {expr}")
        used = set()
        for series, selector in edlae_metrics(expr):
            metric = base_metric(series)
            self.assertIn(metric, METRICS, f"{where}: unknown metric {series}")
            if METRICS[metric] == "histogram":
                self.assertNotEqual(series, metric, f"{where}: histogram {metric} read without _bucket/_sum/_count")
            if METRICS[metric] == "counter":
                self.assertRegex(expr, rf"(rate|increase)\({series}\b", f"{where}: counter {series} used raw")
            for label in re.findall(r"([a-z_]+)\s*(?:=~|!~|!=|=)", selector):
                if label not in ("job", "instance"):
                    self.assertIn(label, LABELS.get(metric, set()), f"{where}: {metric} has no label {label}")
            used.add(metric)
        return used


class DashboardTest(ExpressionChecks):
    def setUp(self):
        with open(os.path.join(SOURCE, "deploy", "grafana", "edlae-dashboard.json"), encoding="utf-8") as f:
            self.dashboard = json.load(f)

    def test_panels_use_the_server_metrics(self):
        used = set()
        panels = [p for p in self.dashboard["panels"] if p["type"] != "row"]
        self.assertGreaterEqual(len(panels), 10)
        ids = [p["id"] for p in self.dashboard["panels"]]
        self.assertEqual(len(ids), len(set(ids)), "panel ids must be unique")
        for p in panels:
            self.assertEqual(p["datasource"]["uid"], "${datasource}", f"{p['title']}: hard-coded data source")
            self.assertTrue(p["targets"], p["title"])
            for t in p["targets"]:
                used |= self.check_expr(t["expr"], p["title"])
        self.assertEqual(used, set(METRICS), f"metrics without a panel: {set(METRICS) - used}")
        variables = {v["name"] for v in self.dashboard["templating"]["list"]}
        self.assertLessEqual({"datasource", "job", "instance"}, variables)

    def test_panels_do_not_overlap(self):
        cells = set()
        for p in self.dashboard["panels"]:
            g = p["gridPos"]
            self.assertLessEqual(g["x"] + g["w"], 24, p["title"])
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    self.assertNotIn((x, y), cells, f"{p['title']} overlaps another panel")
                    cells.add((x, y))


class AlertsTest(ExpressionChecks):
    def test_rules(self):
        with open(os.path.join(SOURCE, "deploy", "prometheus", "edlae-alerts.yaml"), encoding="utf-8") as f:
            rules = [r for g in yaml.safe_load(f)["groups"] for r in g["rules"]]
        with open(os.path.join(SOURCE, "docs", "operations.md"), encoding="utf-8") as f:
            operations = f.read()
        self.assertGreaterEqual(len(rules), 6)
        for r in rules:
            with self.subTest(alert=r.get("alert")):
                self.assertRegex(r["alert"], r"^Edlae[A-Za-z]+$")
                self.assertIn(r["labels"]["severity"], ("critical", "warning", "info"))
                self.assertTrue(r["annotations"]["summary"])
                self.assertTrue(self.check_expr(r["expr"], r["alert"]) or "container_" in r["expr"])
                if "for" in r:
                    self.assertRegex(r["for"], r"^[0-9]+[smh]$")
                self.assertIn(r["alert"], operations, "docs/operations.md explains every alert")


if __name__ == "__main__":
    unittest.main(verbosity=2)
