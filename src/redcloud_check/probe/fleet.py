"""The fleet probe: the read-only probe of many API clients at once, from a targets file.

    targets = load_targets(Path("targets.toml"))       # ConfigError naming the line
    for target, result in run_fleet(targets, concurrency=8): ...

The file (`redcloud-check probe --targets FILE`) holds `[[target]]` tables::

    [[target]]
    name = "eu-prod"                        # unique; the `target` label of the metrics
    base_url = "https://api.example.com"
    number_id = "num_abc123"
    client_id_env = "EU_PROD_CLIENT_ID"     # names of environment variables holding the
    client_secret_env = "EU_PROD_SECRET"    # credentials: no secret is written in the file

A file that cannot be read, is not TOML, or has a table with a missing, unknown or
mistyped key (or a name used twice) is a configuration error naming the line: nothing is
probed. A target whose credential variable is unset, or whose values the settings reject
(e.g. a base_url that is not http(s)), is that target's `config_error`, naming it and its
line; the other targets are still probed.

The targets run on a bounded thread pool, each with its own settings and RunContext (so its
own requests.Session and recorder); the JSON Schema registry and validators are shared
(`rules.schemas` caches them). The fleet's verdict is its worst target's (`worst`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redcloud_check.core.config import Settings, load_settings
from redcloud_check.core.errors import ConfigError
from redcloud_check.core.toml_tables import FromTable, checked_keys, complaint, read_tables, where
from redcloud_check.core.urls import without_userinfo
from redcloud_check.core.waivers import Waiver, WaiverBook
from redcloud_check.probe.runner import (
    ProbeResult,
    Status,
    config_error_result,
    run_probe,
)

__all__ = ["DEFAULT_CONCURRENCY", "SEVERITY", "FleetTarget", "load_targets", "probe_target",
           "run_fleet", "target_settings", "worst"]

SETTING = "--targets"
KEYS = ("name", "base_url", "number_id", "client_id_env", "client_secret_env")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Threads, not processes: a probe waits on the network most of the time and the GIL is
# released meanwhile; 8 keeps two cores busy against a loopback simulator and overlaps
# eight round trips against a remote API.
DEFAULT_CONCURRENCY = 8
# Worst first. A configuration error comes first: the fleet cannot tell that target's health
# at all, and only its operator can fix it; then the tool's own failure to probe it (also
# exit 3). Then no HTTP answer (nothing works from here), a failed stage, a slow pass, a
# pass. `worst` of a fleet is the first of these any target has.
SEVERITY: tuple[Status, ...] = ("config_error", "tool_error", "unreachable", "unhealthy",
                                "degraded", "healthy")


@dataclass(frozen=True, slots=True)
class FleetTarget(FromTable):
    name: str
    base_url: str
    number_id: str
    client_id_env: str  # the environment variable that holds the client id
    client_secret_env: str  # ... and the client secret
    line: int | None  # of its [[target]] header
    source: str  # the file's name, for messages

    @property
    def label(self) -> str:
        """How messages name the target."""
        return f"{self.where}: target {self.name!r}"


def worst(statuses: Sequence[Status]) -> Status:
    """The most severe status of `statuses` (SEVERITY); healthy for none."""
    return min(statuses, key=SEVERITY.index, default="healthy")


def load_targets(path: Path) -> tuple[FleetTarget, ...]:
    """Parse and validate the targets file; ConfigError(--targets) naming the line."""
    targets: list[FleetTarget] = []
    seen: dict[str, FleetTarget] = {}
    for i, (table, line) in enumerate(read_tables(path, "target", setting=SETTING), 1):
        target = _target(table, i, line, path)
        if target.name in seen:
            raise ConfigError(SETTING, f"{target.label} is named again (the target at "
                                       f"{seen[target.name].where} already is)",
                              "each target's name is unique: it is the metrics' target label")
        seen[target.name] = target
        targets.append(target)
    if not targets:
        raise ConfigError(SETTING, f"{path}: no [[target]] table", "see docs/probe.md")
    return tuple(targets)


def _target(table: Any, index: int, line: int | None, path: Path) -> FleetTarget:
    bad = complaint(SETTING, f"{where(path.name, line)}: target #{index}")
    table = checked_keys(table, KEYS, "target", bad)
    for key in KEYS:
        value = table[key]
        if not isinstance(value, str) or not value.strip() or "\n" in value:
            raise bad(f"'{key}' must be a non-empty one-line string")
    for key in ("client_id_env", "client_secret_env"):
        if not ENV_NAME.match(table[key]):
            raise bad(f"'{key}' must name an environment variable, got {table[key]!r}",
                      "the file names the variables that hold the credentials, never "
                      "the credentials themselves")
    return FleetTarget(name=table["name"].strip(), base_url=table["base_url"].strip(),
                       number_id=table["number_id"].strip(),
                       client_id_env=table["client_id_env"],
                       client_secret_env=table["client_secret_env"], line=line,
                       source=path.name)


def target_settings(target: FleetTarget, options: Mapping[str, str | None] | None = None,
                    environ: Mapping[str, str] | None = None) -> Settings:
    """The target's settings: its file values and credentials over the shared `options` and
    environment (RC_TIMEOUT, RC_REPORTS_DIR, ...). ConfigError naming the target."""
    env = os.environ if environ is None else environ
    credentials = {}
    for key, attr in (("client_id_env", "client_id"), ("client_secret_env", "client_secret")):
        variable = getattr(target, key)
        if not env.get(variable):
            raise ConfigError(variable, f"{target.label}: {key} names {variable}, which is "
                                        "not set (or empty)",
                              "export it in the probe's environment")
        credentials[attr] = env[variable]
    given = {**(options or {}), "base_url": target.base_url, "number_id": target.number_id,
             **credentials}
    try:
        return load_settings(given, environ=env)
    except ConfigError as error:
        raise ConfigError(error.setting, f"{target.label}: {error.problem}",
                          error.hint) from None


def probe_target(target: FleetTarget, *, options: Mapping[str, str | None] | None = None,
                 environ: Mapping[str, str] | None = None,
                 warn_latency_ms: float | None = None, waivers: Sequence[Waiver] = (),
                 waiver_file: Path | None = None) -> ProbeResult:
    """The read-only probe of one target (its own waiver book); a target whose settings are
    wrong is its config_error result, naming it. Never raises for what the target does."""
    try:
        settings = target_settings(target, options, environ)
    except ConfigError as error:
        return config_error_result(str(error), target=without_userinfo(target.base_url))
    return run_probe(settings, warn_latency_ms=warn_latency_ms,
                     waivers=WaiverBook(waivers, file=waiver_file))


def run_fleet(targets: Sequence[FleetTarget], *, concurrency: int = DEFAULT_CONCURRENCY,
              probe: Callable[[FleetTarget], ProbeResult] | None = None,
              ) -> Iterator[tuple[FleetTarget, ProbeResult]]:
    """Probe every target, at most `concurrency` at once; yields (target, result) as each
    finishes. `probe` defaults to `probe_target` with the process's environment. A bug of
    ours in one target's probe is raised here (after the running ones finish)."""
    run = probe or probe_target
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(targets))),
                            thread_name_prefix="rc-fleet") as pool:
        futures = {pool.submit(run, target): target for target in targets}
        for future in as_completed(futures):
            yield futures[future], future.result()
