"""The suite gives no false failures: against each conformant simulator variant, and against
all of them at once, it exits 0 with every check passed and none skipped."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from redcloud_check.simulator.catalog import VARIANTS
from redcloud_check.simulator.variants import UNLISTED_EVENT_TYPE

from .suite_runner import SuiteRun, run_suite

pytestmark = pytest.mark.slow  # module fixtures run the suite in subprocesses

ALL = "all-at-once"


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SuiteRun]:
    """One suite run per variant and one with every variant, two at a time (two cores)."""
    def one(name: str) -> tuple[str, SuiteRun]:
        reports = tmp_path_factory.mktemp(f"variant-{name}")
        chosen = ",".join(sorted(VARIANTS)) if name == ALL else name
        return name, run_suite(reports, RC_SIM_VARIANTS=chosen)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(one, [*sorted(VARIANTS), ALL]))


@pytest.mark.parametrize("variant", [*sorted(VARIANTS), ALL])
def test_a_conformant_variant_passes_every_check(matrix: dict[str, SuiteRun],
                                                 variant: str) -> None:
    run = matrix[variant]
    assert run.returncode == 0, f"{variant}: exit {run.returncode}\n{run.stdout[-3000:]}"
    assert len(run.cases) >= 30, f"{variant}: junit.xml lists {len(run.cases)} checks"
    assert run.failed == [], [(c.name, c.message) for c in run.failed]
    skipped = [(c.name, c.message) for c in run.by_outcome("skipped")]
    assert skipped == [], f"{variant}: unexpected skips {skipped}"
    assert {c.stage for c in run.cases} == {"token", "whoami", "numbers", "send", "webhooks"}


def test_an_unlisted_event_type_is_shown_not_failed(matrix: dict[str, SuiteRun]) -> None:
    run = matrix["unlisted-event-type"]
    assert "Event types the docs do not list" in run.stdout
    bundle = json.loads((run.reports / "escalation.json").read_text("utf-8"))
    assert UNLISTED_EVENT_TYPE in json.dumps(bundle)


@pytest.mark.parametrize(("variant", "shown"), [
    ("redeliver-every-event", "Duplicate webhook deliveries"),
    ("additive-fields", "undocumented in POST /api/auth/token 200: $.simLinks"),
])
def test_what_conforms_but_differs_is_shown(matrix: dict[str, SuiteRun], variant: str,
                                            shown: str) -> None:
    assert shown in matrix[variant].stdout
