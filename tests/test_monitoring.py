"""The monitoring mixin (monitoring/): Prometheus rules, their unit tests, the Grafana dashboard.

Every rules file the repository ships (any YAML with top-level `groups`, found by walking the
tree, so a new one cannot be forgotten) passes `promtool check rules` and is loaded by a rule
test file (top-level `rule_files` and `tests`) that passes `promtool test rules`; every alert
has a case where it fires and one where it does not. Every metric a rule or a dashboard panel
names is one `redcloud_check.probe.metrics` exports, or a recording rule of ours.

One test runs it all for real: the probe's textfile, scraped by a real Prometheus loaded
with the shipped rules, fires RedcloudProbeFailing on the third failed run and resolves it on
a pass, and every dashboard expression returns data.

promtool and prometheus come with Debian's `prometheus` package (.ci/run installs it).
Without them these tests skip on a workstation and fail in CI (environment variable CI set),
which must run them.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import yaml

from redcloud_check.probe import metrics

ROOT = Path(__file__).resolve().parents[1]
MONITORING = ROOT / "monitoring"
RULES = MONITORING / "prometheus-rules.yml"
DASHBOARD = MONITORING / "grafana-dashboard.json"
NOT_SHIPPED = {"node_modules", "reports", "build", "dist", "__pycache__"}
PROMQL_WORDS = {"and", "or", "unless", "bool", "inf", "nan"}
LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
# The SRE Workbook's multiwindow, multi-burn-rate table (chapter 5, "Alerting on SLOs"):
# (burn rate, long window, short window, severity).
WORKBOOK = {(14.4, "1h", "5m", "page"), (6.0, "6h", "30m", "page"), (1.0, "3d", "6h", "ticket")}


def tool(name: str) -> str:
    """The path of `name` from Debian's prometheus package: skipped without it, except in CI."""
    found = shutil.which(name)
    if found:
        return found
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"{name} is not installed, and CI must check the Prometheus rules: "
                    "apt-get install --no-install-recommends prometheus (.ci/run does as root)")
    pytest.skip(f"{name} is not installed (Debian: apt-get install --no-install-recommends "
                "prometheus)")


def promtool() -> str:
    return tool("promtool")


def run_promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([promtool(), *map(str, args)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == 0, f"promtool {' '.join(map(str, args))}:\n{proc.stdout}{proc.stderr}"
    return proc


@functools.cache
def _yaml_files() -> tuple[tuple[Path, tuple[Any, ...]], ...]:
    """Every YAML file in the repository (hidden and generated directories aside), parsed."""
    found = []
    for top, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in NOT_SHIPPED)
        for name in sorted(files):
            if name.endswith((".yml", ".yaml")):
                path = Path(top) / name
                found.append((path, tuple(yaml.safe_load_all(path.read_text(encoding="utf-8")))))
    return tuple(found)


def _rules_files() -> list[Path]:
    return [path for path, docs in _yaml_files()
            if any(isinstance(doc, dict) and "groups" in doc for doc in docs)]


def _rule_test_files() -> list[Path]:
    return [path for path, docs in _yaml_files()
            if any(isinstance(doc, dict) and {"rule_files", "tests"} <= set(doc) for doc in docs)]


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _rules(kind: str) -> list[dict[str, Any]]:
    """Every rule of `kind` ("alert" or "record") in the shipped rules files (each file once,
    a link to a file counting as that file)."""
    files = {path.resolve() for path in _rules_files()}
    return [rule for path in sorted(files) for group in load(path)["groups"]
            for rule in group["rules"] if kind in rule]


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: its identifiers that are not functions,
    keywords, label names (in braces, in by/on/... lists, or the label Grafana's
    label_values(selector, label) lists), durations or Grafana variables."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)
    text = re.sub(r"\blabel_values\s*\((.*),\s*\w+\s*\)", r"(\1)", text)
    text = re.sub(r"\{[^{}]*\}", " ", text)
    text = re.sub(r"\[[^\[\]]*\]", " ", text)
    text = LABEL_LISTS.sub(" ", text)
    text = re.sub(r"\boffset\s+-?[0-9a-z]+", " ", text)
    text = re.sub(r"\$\{?\w+\}?", " ", text)
    return {m.group(1) for m in re.finditer(r"(?<![\w:.])([A-Za-z_:][\w:]*)(\s*\()?", text)
            if not m.group(2) and m.group(1).lower() not in PROMQL_WORDS}


@pytest.mark.parametrize(("expr", "names"), [
    ('sum by (target) (rate(a_total{job="x", le="1"}[5m] offset 1h)) > 0.5', {"a_total"}),
    ("x:y:rate5m / on() group_left(target) (1 - z) unless b == bool 2e3", {"x:y:rate5m", "z", "b"}),
    ('label_values(m{instance=~"$instance"}, target)', {"m"}),
    ('time() - t{target=~"$target"} > ${threshold}', {"t"}),
    ("vector(0.99) or Inf", set()),
])
def test_metric_names_finds_the_selected_metrics_only(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def known_names() -> set[str]:
    return set(metrics.METRIC_NAMES) | {rule["record"] for rule in _rules("record")}


# ---- the rules ----------------------------------------------------------------------------

def test_the_rules_are_found_at_both_of_their_paths() -> None:
    found = _rules_files()
    assert RULES in found
    old = ROOT / "docs" / "scheduling" / "prometheus-alerts.yml"  # the earlier name, linked
    assert old in found and old.resolve() == RULES.resolve()
    assert MONITORING / "prometheus-rules.test.yml" in _rule_test_files()


def test_every_rules_file_passes_promtool_check_rules() -> None:
    proc = run_promtool("check", "rules", *_rules_files())
    assert proc.stdout.count("SUCCESS") == len(_rules_files()), proc.stdout


@pytest.mark.slow
def test_every_rule_test_file_passes_promtool_test_rules() -> None:
    proc = run_promtool("test", "rules", *_rule_test_files())
    assert proc.stdout.count("SUCCESS") == len(_rule_test_files()), proc.stdout


def test_every_rules_file_is_loaded_by_a_rule_test_file() -> None:
    tested = {(path.parent / name).resolve() for path in _rule_test_files()
              for name in load(path)["rule_files"]}
    untested = {path.resolve() for path in _rules_files()} - tested
    assert not untested, f"rules files no rule test loads: {sorted(map(str, untested))}"


def test_every_alert_has_a_case_that_fires_and_one_that_does_not() -> None:
    fires: set[str] = set()
    silent: set[str] = set()
    for path in _rule_test_files():
        for group in load(path)["tests"]:
            for case in group.get("alert_rule_test", []):
                (fires if case.get("exp_alerts") else silent).add(case["alertname"])
    alerts = {rule["alert"] for rule in _rules("alert")}
    assert alerts - fires == set(), "never shown firing"
    assert alerts - silent == set(), "never shown silent"


def test_rules_name_only_metrics_the_probe_exports_or_we_record() -> None:
    known = known_names()
    for rule in _rules("alert") + _rules("record"):
        names = metric_names(rule["expr"])
        assert names <= known, (rule.get("alert") or rule["record"], names - known)
    exported = {name for rule in _rules("alert") + _rules("record")
                for name in metric_names(rule["expr"])} & set(metrics.METRIC_NAMES)
    assert {metrics.SUCCESS, metrics.LAST_SUCCESS, metrics.CONSECUTIVE_FAILURES,
            metrics.EXIT_CODE, metrics.STAGE_SUCCESS} <= exported


def test_every_alert_has_a_severity_a_summary_and_a_description() -> None:
    for rule in _rules("alert"):
        assert rule["labels"]["severity"] in ("page", "ticket"), rule["alert"]
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]


def test_the_burn_rate_alerts_are_the_workbooks_pairs_over_recorded_rates() -> None:
    recorded = {rule["record"]: rule["expr"] for rule in _rules("record")}
    found = set()
    for rule in _rules("alert"):
        if rule["alert"] != "RedcloudProbeErrorBudgetBurn":
            continue
        labels = rule["labels"]
        match = re.fullmatch(r"redcloud_probe:sli_error:burn_rate(\w+) > ([\d.]+)\s+and "
                             r"redcloud_probe:sli_error:burn_rate(\w+) > ([\d.]+)", rule["expr"])
        assert match, rule["expr"]
        long, factor, short, same = match.groups()
        assert factor == same and (long, short) == (labels["long_window"],
                                                    labels["short_window"])
        found.add((float(factor), long, short, labels["severity"]))
        for window in (long, short):
            assert f"avg_over_time(redcloud_probe:sli_error[{window}])" in recorded[
                f"redcloud_probe:sli_error:burn_rate{window}"]
    assert found == WORKBOOK


# ---- the dashboard ------------------------------------------------------------------------

def dashboard() -> dict[str, Any]:
    doc = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def panels(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, those inside collapsed rows too."""
    found = []
    for panel in doc["panels"]:
        found.append(panel)
        found += panel.get("panels", [])
    return found


def expressions(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return [(panel["title"], query["expr"]) for panel in panels(doc)
            for query in panel.get("targets", [])]


def test_the_dashboard_is_a_grafana_dashboard() -> None:
    doc = dashboard()
    assert doc["schemaVersion"] >= 36 and doc["uid"] and doc["title"]
    ids = [panel["id"] for panel in panels(doc)]
    assert len(ids) == len(set(ids))
    for panel in panels(doc):
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]
        if panel["type"] != "row":
            assert panel["targets"] and panel["datasource"]["uid"] == "${datasource}"
            assert all(query["expr"].strip() for query in panel["targets"]), panel["title"]


def test_every_panel_names_only_metrics_the_probe_writes() -> None:
    known = known_names()
    for title, expr in expressions(dashboard()):
        names = metric_names(expr)
        assert names, (title, expr)
        assert names <= known, (title, names - known)


def test_every_metric_the_probe_writes_has_a_panel() -> None:
    shown = {name for _, expr in expressions(dashboard()) for name in metric_names(expr)}
    assert set(metrics.METRIC_NAMES) <= shown, set(metrics.METRIC_NAMES) - shown


def test_the_target_variable_comes_from_the_fleets_label_and_every_panel_follows_it() -> None:
    doc = dashboard()
    variables = {var["name"]: var for var in doc["templating"]["list"]}
    target = variables["target"]
    assert re.fullmatch(r"label_values\((.+), target\)", target["query"]["query"])
    assert metric_names(target["query"]["query"]) <= set(metrics.METRIC_NAMES)
    assert target["includeAll"] and target["allValue"] == ".*"  # also a probe without target
    [row] = [panel for panel in doc["panels"] if panel.get("repeat") == "target"]
    assert row["type"] == "row" and row["panels"]
    selectors = re.compile(r"(redcloud_probe[\w:]*)(\{[^{}]*\})?")
    for title, expr in expressions(doc):
        for name, labels in selectors.findall(expr):
            if name != "redcloud_probe:slo_objective":  # one series, no labels
                assert 'target=~"$target"' in labels and 'instance=~"$instance"' in labels, (
                    title, expr)


def test_every_panel_expression_is_valid_promql(tmp_path: Path) -> None:
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:panel_{i}", "expr": expr}
        for i, (_, expr) in enumerate(expressions(dashboard()))]}]}
    path = tmp_path / "dashboard-expressions.yml"
    path.write_text(yaml.safe_dump(rules), encoding="utf-8")
    run_promtool("check", "rules", path)


# ---- all of it, for real ------------------------------------------------------------------

@dataclass
class Prometheus:
    url: str

    def get(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=10) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return list(self.get("/api/v1/query", query=expr)["result"])

    def firing(self) -> set[str]:
        return {alert["labels"]["alertname"] for alert in self.get("/api/v1/alerts")["alerts"]
                if alert["state"] == "firing"}

    def wait(self, what: str, ready: Callable[[], bool], timeout: float = 30) -> None:
        """Poll Prometheus until `ready()` (it scrapes and evaluates twice a second)."""
        deadline = time.monotonic() + timeout
        while not ready():
            assert time.monotonic() < deadline, f"Prometheus never showed {what}"
            time.sleep(0.1)


@contextmanager
def textfile_server(path: Path) -> Iterator[str]:
    """`path` served at /metrics on loopback port 0, as node_exporter serves a textfile;
    yields host:port."""
    from .bad_targets import serve

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            body = path.read_bytes() if path.exists() else b""
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serve(Handler) as url:
        yield url.removeprefix("http://")


@contextmanager
def prometheus(tmp: Path, scrape: str) -> Iterator[Prometheus]:
    """A real Prometheus on loopback, scraping `scrape` and evaluating the shipped rules, each
    twice a second."""
    from .bad_targets import closed_port_url

    address = closed_port_url().removeprefix("http://")  # a free port: Prometheus needs one
    config = tmp / "prometheus.yml"
    config.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "500ms", "evaluation_interval": "500ms"},
        "rule_files": [str(RULES)],
        "scrape_configs": [{"job_name": "node", "static_configs": [{"targets": [scrape]}]}],
    }), encoding="utf-8")
    log = (tmp / "prometheus.log").open("w")
    proc = subprocess.Popen([tool("prometheus"), f"--config.file={config}",
                             f"--storage.tsdb.path={tmp / 'tsdb'}",
                             f"--web.listen-address={address}"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = Prometheus(f"http://{address}")

    def ready() -> bool:
        assert proc.poll() is None, (tmp / "prometheus.log").read_text()
        try:
            return server.get("/api/v1/status/runtimeinfo") is not None
        except OSError:
            return False

    try:
        server.wait("its API", ready)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.mark.slow
def test_a_real_prometheus_alerts_on_the_probes_textfile_and_fills_every_panel(
        tmp_path: Path) -> None:
    from .test_probe_cli import run_probe_cli

    with textfile_server(tmp_path / "probe.prom") as scrape, \
            prometheus(tmp_path, scrape) as server:
        def count_is(n: int) -> Callable[[], bool]:
            return lambda: [s["value"][1] for s in server.query(
                metrics.CONSECUTIVE_FAILURES)] == [str(n)]

        for n in (1, 2, 3):  # the first wait also covers Prometheus's 5-second discovery
            assert run_probe_cli(tmp_path, "--fault", "whoami-client-inactive").code == 1
            server.wait(f"{n} consecutive failures", count_is(n))
            if n < 3:
                assert "RedcloudProbeFailing" not in server.firing()
        server.wait("RedcloudProbeFailing", lambda: "RedcloudProbeFailing" in server.firing())
        assert run_probe_cli(tmp_path, "--canary").code == 0
        server.wait("the canary's stages", lambda: bool(server.query(
            f'{metrics.STAGE_SUCCESS}{{stage="webhooks"}} == 1')) and count_is(0)())
        server.wait("RedcloudProbeFailing resolved",
                    lambda: "RedcloudProbeFailing" not in server.firing())
        empty = [(title, expr) for title, expr in expressions(dashboard()) if not server.query(
            expr.replace("$instance", ".*").replace("$target", ".*"))]
        assert not empty, f"panels without data: {empty}"
