"""Errors of redcloud-check.

Two families, kept apart on purpose (as schemathesis keeps "the API does not conform"
apart from "the tool broke"):

    RedcloudCheckError            the tool cannot do its job (not a finding about the API)
    ├── ConfigError               a setting is missing or malformed; names the setting
    ├── TargetUnreachable         no HTTP answer at all (refused, DNS, timeout, TLS)
    ├── RateLimited               the API rate-limited the run past RC_RETRY_BUDGET
    ├── TunnelError               the public tunnel for the webhook listener failed
    └── HandlerError              code of ours raised while our server was serving (a bug)

    CheckFailure (AssertionError) the target breaks a rule the docs state
                                  keyword-only: title, expected, actual, clause, and the
                                  cause when the check established one (it leads the
                                  diagnosis: redcloud_check.reporting.diagnosis)

Findings the docs do not state are never failures: they are `Finding` records with
severity "warning" or "info" (see `redcloud_check.core.findings`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redcloud_check.core.models import Cause


class RedcloudCheckError(Exception):
    """The tool itself cannot proceed (misconfiguration, no connectivity, ...)."""


class ConfigError(RedcloudCheckError):
    """A setting is missing or malformed. `setting` names it (env var name)."""

    def __init__(self, setting: str, problem: str, hint: str = "") -> None:
        self.setting = setting
        self.problem = problem
        self.hint = hint
        msg = f"{setting}: {problem}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)


class TargetUnreachable(RedcloudCheckError):
    """The target gave no HTTP answer. `kind` is refused|dns|timeout|tls|connection."""

    def __init__(self, url: str, kind: str, detail: str) -> None:
        self.url = url
        self.kind = kind
        self.detail = detail
        super().__init__(f"target unreachable ({kind}) at {url}: {detail}")


class RateLimited(RedcloudCheckError):
    """The API rate-limited the run past RC_RETRY_BUDGET: the stage is inconclusive (exit 2),
    never failed; a rate limit is conformant behaviour (DESIGN.md, rate limits)."""

    def __init__(self, exchange: Any, asked_s: float, spent_s: float, budget_s: float) -> None:
        self.exchange = exchange
        self.asked_s = asked_s
        self.spent_s = spent_s
        self.budget_s = budget_s
        said = exchange.header("Retry-After") if exchange is not None else ""
        super().__init__(
            f"rate-limited: HTTP {getattr(exchange, 'status', '?')} with Retry-After "
            f"{said or '(none)'} on {getattr(exchange, 'endpoint', '?')}, after {spent_s:g} s "
            f"of waits; RC_RETRY_BUDGET ({budget_s:g} s) leaves too little to wait "
            f"{asked_s:g} s more")


class TunnelError(RedcloudCheckError):
    """The public tunnel for the webhook listener could not be opened."""


class HandlerError(RedcloudCheckError):
    """Code of ours raised while one of our servers was serving (the webhook listener's
    subscribers, a crashed server loop): a bug in redcloud-check, raised at the end of the
    run by `check_handler_errors()` as pytest-httpserver does. `errors` holds them all."""

    def __init__(self, server: str, errors: Sequence[BaseException]) -> None:
        self.server = server
        self.errors = tuple(errors)
        shown = "; ".join(f"{type(e).__name__}: {e}" for e in self.errors[:3])
        more = f" (and {len(self.errors) - 3} more)" if len(self.errors) > 3 else ""
        super().__init__(f"{len(self.errors)} error(s) in the {server} while serving: "
                         f"{shown}{more}")


class CollectsHandlerErrors:
    """What a server of ours collects while serving (`handler_errors`) and raises at the end
    (`check_handler_errors()`), as pytest-httpserver does: never swallowed."""

    name = "server"
    handler_errors: list[BaseException]

    def check_handler_errors(self) -> None:
        """Raise HandlerError for what code of ours raised while serving (first as cause)."""
        errors = list(self.handler_errors)
        if errors:
            raise HandlerError(self.name, errors) from errors[0]

    def clear_handler_errors(self) -> None:
        self.handler_errors.clear()


class CheckFailure(AssertionError):
    """The target breaks a documented rule.

    Every field is keyword-only so a failure always says what was expected, what was seen
    and which clause of the docs demands it.
    """

    def __init__(
        self,
        *,
        title: str,
        expected: str,
        actual: str,
        clause: str,
        exchange: Any = None,
        cause: Cause | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.title = title
        self.expected = expected
        self.actual = actual
        self.clause = clause
        self.exchange = exchange
        self.cause = cause
        self.details = dict(details or {})
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return (
            f"{self.title}\n"
            f"  expected: {self.expected}\n"
            f"  actual:   {self.actual}\n"
            f"  clause:   {self.clause}"
        )
