"""The scheduling examples in docs/scheduling/ parse, and run the probe as it really is.

Every `redcloud-check probe ...` command line in them is parsed by the real CLI parser. The
alert rules (prometheus-alerts.yml, a link to monitoring/prometheus-rules.yml) are checked
by tests/test_monitoring.py.
"""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from redcloud_check.cli import build_parser

DIR = Path(__file__).resolve().parents[1] / "docs" / "scheduling"
CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")
SHELL_OPERATORS = {"&&", "||", ";", "|", ">", ">>", "2>&1", "<"}


def probe_args(command: str | list[str]) -> list[str]:
    """The arguments after `redcloud-check` in a shell line (or an args list), up to the
    first shell operator."""
    words = shlex.split(command) if isinstance(command, str) else list(command)
    start = next(i for i, w in enumerate(words) if w.endswith("redcloud-check"))
    args = []
    for word in words[start + 1:]:
        if word in SHELL_OPERATORS:
            break
        args.append(word)
    return args


def assert_valid_probe_command(args: list[str]) -> None:
    assert args[:1] == ["probe"], args
    parsed = build_parser().parse_args(args)  # SystemExit on an unknown or malformed option
    assert parsed.command == "probe" and not parsed.canary


def load_yaml(name: str) -> Any:
    return yaml.safe_load((DIR / name).read_text(encoding="utf-8"))


def test_crontab_line_has_five_fields_and_a_probe_command() -> None:
    lines = [line for line in (DIR / "crontab").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert len(lines) == 1
    fields = lines[0].split(None, 5)
    assert len(fields) == 6
    assert all(CRON_FIELD.match(f) for f in fields[:5]), fields[:5]
    assert "%" not in fields[5]  # cron turns % into a newline
    assert "redcloud-check probe" in fields[5]
    assert_valid_probe_command(probe_args(fields[5]))


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DIR / name).read_text(encoding="utf-8"), source=name)
    return parser


def test_systemd_service_runs_the_probe_once() -> None:
    service = _unit("redcloud-probe.service")
    assert service["Service"]["Type"] == "oneshot"
    exec_start = service["Service"]["ExecStart"]
    assert_valid_probe_command(probe_args(exec_start))
    assert "RC_CLIENT_SECRET" not in exec_start


def test_systemd_timer_schedules_the_service() -> None:
    timer = _unit("redcloud-probe.timer")
    assert timer["Timer"]["OnCalendar"]
    assert timer["Timer"]["Unit"] == "redcloud-probe.service"
    assert timer["Install"]["WantedBy"] == "timers.target"
    systemd_analyze = shutil.which("systemd-analyze")
    if systemd_analyze:
        subprocess.run([systemd_analyze, "calendar", timer["Timer"]["OnCalendar"]],
                       check=True, capture_output=True, timeout=30)


def test_github_actions_workflow_is_scheduled_and_probes() -> None:
    workflow = load_yaml("github-actions.yml")
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    [schedule] = triggers["schedule"]
    assert len(schedule["cron"].split()) == 5
    steps = workflow["jobs"]["probe"]["steps"]
    [probe] = [s for s in steps if "redcloud-check probe" in s.get("run", "")]
    assert_valid_probe_command(probe_args(probe["run"]))
    assert probe["env"]["RC_CLIENT_SECRET"] == "${{ secrets.RC_CLIENT_SECRET }}"
    assert workflow["jobs"]["probe"]["timeout-minutes"] > 0


def test_kubernetes_cronjob_pushes_with_a_fixed_instance() -> None:
    job = load_yaml("kubernetes-cronjob.yaml")
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "CronJob")
    assert len(job["spec"]["schedule"].split()) == 5
    assert job["spec"]["concurrencyPolicy"] == "Forbid"
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    [container] = pod["containers"]
    args = ["redcloud-check", *container["args"]]
    assert_valid_probe_command(probe_args(args))
    assert "--pushgateway" in args and "--instance" in args
    assert any("secretRef" in source for source in container["envFrom"])


def test_the_sharded_fleet_cronjob_gives_each_pod_its_shard_and_instance(tmp_path: Path) -> None:
    from redcloud_check.probe.fleet import load_targets

    config_map, job = yaml.safe_load_all(
        (DIR / "kubernetes-cronjob-fleet.yaml").read_text(encoding="utf-8"))
    spec = job["spec"]["jobTemplate"]["spec"]
    assert spec["completionMode"] == "Indexed"
    shards = spec["completions"]
    assert spec["parallelism"] == shards
    assert sorted(config_map["data"]) == [f"shard-{i}.toml" for i in range(shards)]
    names = []
    for key, text in config_map["data"].items():
        path = tmp_path / key
        path.write_text(text, encoding="utf-8")
        names += [t.name for t in load_targets(path)]
    assert len(names) == len(set(names))  # one target label per target, across shards
    [container] = spec["template"]["spec"]["containers"]
    args = container["args"]
    index = {e["name"]: e for e in container["env"]}["SHARD"]["valueFrom"]["fieldRef"]
    assert index["fieldPath"].endswith("['batch.kubernetes.io/job-completion-index']")
    assert args[args.index("--targets") + 1] == "/etc/redcloud/shard-$(SHARD).toml"
    assert args[args.index("--instance") + 1].endswith("-$(SHARD)")  # pushadd groups apart
    assert_valid_probe_command(probe_args(["redcloud-check", *args]))
