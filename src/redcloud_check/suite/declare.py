"""How a check of the suite is declared: its id, clause and gate, once, with the function.

    @check("RC-TOKEN-01", clause=QUICKSTART)
    def test_basic_credentials_issue_a_bearer_token(rc): ...

    @cases("case", TOKEN_CASES, clause=NEAR_MISS)     # one id per case: case.check_id
    def test_token_refuses_a_near_miss_credential(rc, case): ...

    skip(SkipCode.PREMISE, "no message was accepted ...")   # a skip with its reason code

    @check("RC-WHOAMI-05", clause=NO_TOKEN, ahead=_no_authorization)
    def test_missing_token_gives_401_core_error(rc):
        exchange = rc.answer(_no_authorization)           # its requests' answer, then judged

`ahead` names what makes the check's requests (`make(rc)`, or `make(rc, case)` for a check
run per case), so that the run may send them ahead of the check, together with other
checks' (`suite.lookahead`); `after` names the checks whose requests must be answered
first. The check asks for the answer with `rc.answer(make, ...)`: sent ahead, or made then.

The stage's gate is named by id in `rules.stages`. The declaration becomes the item's
`rc_check` marker holding its `CheckSpec`; the hooks read it into the item's stash. The
docstring is the rule in plain words (its first sentence is the check's title in
docs/checks.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol, TypeVar

import pytest

from redcloud_check.results.catalog import CheckSpec, Grade, spec_for
from redcloud_check.results.ledger import Skip, SkipCode

__all__ = ["MARKER", "Ahead", "CheckSkipped", "ahead_of", "cases", "check", "skip", "spec_of"]

MARKER = "rc_check"
F = TypeVar("F", bound=Callable[..., Any])


class Case(Protocol):
    @property
    def check_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def statement(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Ahead:
    """What makes a check's requests, so the run may send them ahead of the check."""

    make: Callable[..., Any]  # make(rc) or, for a check run per case, make(rc, case)
    after: tuple[str, ...] = ()  # ids of checks whose requests must be answered first
    per_case: str | None = None  # the argument naming the case, for a check run per case
    main_thread: bool = False  # made on the main thread only (it may install signal handlers)


def check(check_id: str, *, clause: str, grade: Grade = "fail",
          ahead: Callable[..., Any] | None = None, after: tuple[str, ...] = (),
          main_thread: bool = False) -> Callable[[F], F]:
    """Declare a check: its stable id, the doc clause it enforces and its grade (which
    check is a stage's gate is `rules.stages`', by id), and what makes its requests."""
    def declare(fn: F) -> F:
        spec = spec_for(check_id, fn.__doc__, clause=clause, grade=grade)
        extra = ({"ahead": Ahead(ahead, after, main_thread=main_thread)}
                 if ahead is not None else {})
        marked: F = getattr(pytest.mark, MARKER)(spec, **extra)(fn)
        return marked
    return declare


def cases(argname: str, items: Iterable[Case], *, clause: str, grade: Grade = "fail",
          ahead: Callable[..., Any] | None = None) -> Callable[[F], F]:
    """Declare a check run once per case; each case is a check of its own, with the id
    the case declares (`case.check_id`); `ahead(rc, case)` makes a case's requests."""
    def declare(fn: F) -> F:
        extra = {"ahead": Ahead(ahead, per_case=argname)} if ahead is not None else {}
        params = [pytest.param(case, id=case.name, marks=getattr(pytest.mark, MARKER)(
            spec_for(case.check_id, fn.__doc__, clause=clause, grade=grade,
                     case=case.statement), **extra)) for case in items]
        marked: F = pytest.mark.parametrize(argname, params)(fn)
        return marked
    return declare


def spec_of(item: pytest.Item) -> CheckSpec | None:
    """The spec an item was declared with (None: not a check of ours)."""
    marker = item.get_closest_marker(MARKER)
    spec = marker.args[0] if marker is not None and marker.args else None
    return spec if isinstance(spec, CheckSpec) else None


def ahead_of(item: pytest.Item) -> Ahead | None:
    """What makes the item's requests, when its declaration says (None: the check makes
    them itself, as it runs)."""
    marker = item.get_closest_marker(MARKER)
    ahead = marker.kwargs.get("ahead") if marker is not None else None
    return ahead if isinstance(ahead, Ahead) else None


class CheckSkipped(pytest.skip.Exception):  # type: ignore[name-defined]
    """pytest's skip, carrying why as a code (and the blocking stage when blocked)."""

    def __init__(self, skip: Skip, blocked_by: str | None = None) -> None:
        super().__init__(skip.text)
        self.skip = skip
        self.blocked_by = blocked_by


# pytest names a skip in its reports as "Skipped: <reason>" by the exception's module and
# name (its own Skipped says it is in "builtins"); ours reads the same.
CheckSkipped.__module__ = "builtins"
CheckSkipped.__name__ = CheckSkipped.__qualname__ = "Skipped"


def skip(code: SkipCode, text: str, *, short: str = "",
         blocked_by: str | None = None) -> NoReturn:
    """Skip the running check (or fixture) for `code`, saying `text`; `short`: the few
    words the verdict's headline shows (the text by default)."""
    __tracebackhide__ = True
    raise CheckSkipped(Skip(code, text, short), blocked_by)
