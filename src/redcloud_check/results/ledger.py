"""The run's ledger: one typed, frozen result per check, and the facts the run established.

Every renderer (terminal, report.html, junit.xml, escalation.json/md, the HAR pages, history)
reads the ledger, and the exit code is computed from it in one place (`results.verdict`);
nothing reads rendered text back. The pytest hooks write it (one `pytest_runtest_makereport`),
the probe writes it too; it knows nothing of pytest.

    Outcome        passed | failed | blocked | waived | skipped | deselected | error (ours)
    SkipCode       why a check did not run, as a code (the text is for people)
    CheckResult    one check's result: its spec, outcome, failure, skip, waiver, evidence
    RunLedger      the results in run order, the findings, the accepted messages, the
                   waivers, and the facts set as the run goes (the number, an unreachable
                   target, a misrouted override, why the webhook session could not start)

Thread-safe where webhook threads write (findings) and for the results.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Literal

from redcloud_check.core.errors import CheckFailure, TargetUnreachable
from redcloud_check.core.findings import FindingLog
from redcloud_check.core.models import AcceptedMessage, Cause
from redcloud_check.core.shared_log import SharedLog
from redcloud_check.core.waivers import Waiver, WaiverBook
from redcloud_check.results.catalog import CheckSpec
from redcloud_check.rules.stages import STAGE_NAMES, stage_index

__all__ = ["CheckResult", "InternalError", "Outcome", "RootCause", "RunLedger", "Skip",
           "SkipCode"]


class Outcome(str, Enum):
    PASSED = "passed"
    FAILED = "failed"  # the API broke a documented rule, or gave no answer
    BLOCKED = "blocked"  # an earlier stage's gate failed (or the target was unreachable)
    WAIVED = "waived"  # failed under a valid waiver
    SKIPPED = "skipped"  # did not run, for the reason its Skip gives
    DESELECTED = "deselected"  # -k, -m or --deselect
    ERROR = "error"  # the tool could not do the check (its own error, never the API's)
    INCONCLUSIVE = "inconclusive"  # rate-limited past RC_RETRY_BUDGET: neither pass nor fail


class SkipCode(str, Enum):
    BLOCKED = "blocked"  # an earlier gate failed: blocked_by names it
    UNREACHABLE = "unreachable"  # the target gave no HTTP answer earlier in the run
    SENDS_DISABLED = "sends-disabled"  # a remote target without RC_ALLOW_SEND=1
    NOT_APPLICABLE = "not-applicable"  # the case does not apply to these settings
    PRECONFIGURED = "preconfigured"  # RC_WEBHOOK_MODE=preconfigured: nothing to check
    PREMISE = "premise"  # what the check judges did not happen (no accepted send, ...)
    TOOL = "tool"  # the tool could not provide what the check needs (the listener)
    OTHER = "other"  # a skip the suite did not classify (e.g. pytest.skip in a user's check)


@dataclass(frozen=True, slots=True)
class Skip:
    """Why a check did not run: the code, the text for people, and the few words the
    verdict's headline groups stages by (`short`; the text when not given)."""

    code: SkipCode
    text: str
    short: str = ""

    @property
    def label(self) -> str:
        return self.short or self.text


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's result, final once recorded.

    `problem` is what ended the check when it did not pass: a `CheckFailure` (the API broke
    a rule), a `TargetUnreachable`, or the tool's own error (outcome ERROR). `evidence` is the
    redacted escalation bundle of a failure (JSON data, `reporting.evidence`)."""

    spec: CheckSpec
    nodeid: str
    name: str
    outcome: Outcome
    problem: BaseException | None = None
    skip: Skip | None = None
    blocked_by: str | None = None
    waiver: Waiver | None = None
    waiver_use: Literal["waived", "expired", "stale"] | None = None
    evidence: Mapping[str, Any] | None = None
    duration_s: float = 0.0
    phase: str = "call"  # where it ended: setup, call or teardown
    explained_by: str | None = None  # the root cause (id) an earlier failure established

    @property
    def check_id(self) -> str:
        return self.spec.id

    @property
    def stage(self) -> str:
        return self.spec.stage

    @property
    def failure(self) -> CheckFailure | None:
        return self.problem if isinstance(self.problem, CheckFailure) else None

    @property
    def unreachable(self) -> TargetUnreachable | None:
        return self.problem if isinstance(self.problem, TargetUnreachable) else None

    @property
    def failing(self) -> bool:
        """It counts against the run: failed, or the tool's own error."""
        return self.outcome in (Outcome.FAILED, Outcome.ERROR)

    @property
    def unproven(self) -> bool:
        """It failed, errored or was inconclusive: it has a root cause to name."""
        return self.failing or self.outcome is Outcome.INCONCLUSIVE

    @property
    def reason(self) -> str:
        """One line for people: the failure's title, the skip's text, the waiver."""
        if self.skip is not None:
            return self.skip.text
        if self.failure is not None:
            return self.failure.title
        if self.unreachable is not None:
            return f"Target unreachable ({self.unreachable.kind}): {self.unreachable.detail}"
        if self.problem is not None:
            return f"{type(self.problem).__name__}: {self.problem}"
        return ""


@dataclass(frozen=True, slots=True)
class RootCause:
    """One root cause of the run's failures: its `Cause` (whose side it is on, with the
    evidence that proves it, the setting to correct or what would decide it), the checks
    whose failures it explains and the node id of the first (`lead`), which carries the
    bundle."""

    cause: Cause
    checks: tuple[str, ...]
    lead: str = ""

    @property
    def title(self) -> str:
        """The cause's first sentence."""
        head, dot, _ = " ".join(self.cause.detail.split()).partition(". ")
        return head + ("." if dot else "")

    def as_dict(self) -> dict[str, Any]:
        c = self.cause
        return {"id": c.id, "side": c.side, "title": self.title, "evidence": list(c.evidence),
                "checks": list(self.checks), "next": c.next_action, "decide": c.decide or None,
                "setting": c.setting}


@dataclass(frozen=True, slots=True)
class InternalError:
    """An error of ours (a bug, or a server of ours failing): never the API's."""

    where: str
    error: BaseException
    shown: str = ""  # what the terminal shows: "Type: message (traceback in <log>)"

    def line(self) -> str:
        return f"{self.where}: {self.shown or f'{type(self.error).__name__}: {self.error}'}"


@dataclass
class RunLedger:
    """The run's results and facts. Results are kept in the order they were recorded (the
    run order); `deselected` holds the specs of checks -k/-m left out."""

    findings: FindingLog = field(default_factory=FindingLog)
    accepted: list[AcceptedMessage] = field(default_factory=list)  # in the order accepted
    waivers: WaiverBook = field(default_factory=WaiverBook)
    number: dict[str, Any] | None = None  # the RC_NUMBER_ID entry from /api/core/numbers
    unreachable: str | None = None  # "<kind> at <url>" once the target gave no answer
    misrouted: str | None = None  # a number's override left pointing at a listener of ours
    webhooks_error: BaseException | None = None  # why the webhook session could not start
    interrupted: bool = False
    _results: dict[str, CheckResult] = field(default_factory=dict)
    _deselected: SharedLog[CheckSpec] = field(default_factory=SharedLog)
    _internal: SharedLog[InternalError] = field(default_factory=SharedLog)
    _roots: dict[str, RootCause] = field(default_factory=dict)  # group -> its root cause
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- results -----------------------------------------------------------------------

    def record(self, result: CheckResult) -> None:
        """Record a check's result; a later phase's result (teardown) replaces it."""
        with self._lock:
            self._results[result.nodeid] = result
            if isinstance(result.problem, TargetUnreachable) and self.unreachable is None:
                error = result.problem
                self.unreachable = f"{error.kind} at {error.url}"

    def results(self) -> list[CheckResult]:
        with self._lock:
            return list(self._results.values())

    def get(self, nodeid: str) -> CheckResult | None:
        with self._lock:
            return self._results.get(nodeid)

    def by_id(self, check_id: str) -> CheckResult | None:
        return next((r for r in self.results() if r.check_id == check_id), None)

    def deselect(self, specs: Iterable[CheckSpec]) -> None:
        for spec in specs:
            self._deselected.add(spec)

    def deselected(self) -> dict[str, int]:
        """stage -> how many of its checks were deselected."""
        counts: dict[str, int] = {}
        for spec in self._deselected.all():
            counts[spec.stage] = counts.get(spec.stage, 0) + 1
        return counts

    # --- root causes -------------------------------------------------------------------

    def root(self, group: str) -> RootCause | None:
        with self._lock:
            return self._roots.get(group)

    def add_root(self, group: str, root: RootCause) -> None:
        with self._lock:
            self._roots.setdefault(group, root)

    def explain(self, group: str, check_id: str) -> RootCause:
        """`check_id` failed for the root cause of `group` too: listed under it."""
        with self._lock:
            root = self._roots[group]
            if check_id not in root.checks:
                root = replace(root, checks=(*root.checks, check_id))
                self._roots[group] = root
            return root

    def root_causes(self) -> list[RootCause]:
        """In the order they were established: the first is the run's lead."""
        with self._lock:
            return list(self._roots.values())

    # --- gates -------------------------------------------------------------------------

    def failed_gates(self) -> dict[str, str]:
        """stage -> why its gate failed, for every stage whose gate check failed (or was
        inconclusive: what it proves is not proven)."""
        failed: dict[str, str] = {}
        for r in self.results():
            if r.spec.gate and r.unproven:
                title = r.failure.title if r.failure is not None else type(r.problem).__name__
                failed.setdefault(r.stage, title)
        return failed

    def blocked_by(self, stage: str) -> str | None:
        """The earliest earlier stage whose gate failed, or None."""
        here = stage_index(stage)
        failed = self.failed_gates()
        return next((name for name in STAGE_NAMES[:here] if name in failed), None)

    # --- facts set as the run goes ------------------------------------------------------

    def note_number(self, number: Mapping[str, Any]) -> None:
        self.number = dict(number)

    def note_misrouted(self, problem: str | None) -> None:
        self.misrouted = problem

    def note_webhooks_error(self, error: BaseException) -> None:
        self.webhooks_error = error

    def note_internal(self, error: InternalError) -> None:
        self._internal.add(error)

    def internal_errors(self) -> list[InternalError]:
        return self._internal.all()
