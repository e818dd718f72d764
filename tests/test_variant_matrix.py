"""The suite gives no false failures: against each conformant simulator variant, and against
all of them at once, it exits 0 with every check passed and none skipped."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from redcloud_check.simulator.catalog import VARIANTS
from redcloud_check.simulator.variants import UNLISTED_EVENT_TYPE

from .run_views import differences
from .suite_runner import SuiteRun, run_suite

pytestmark = pytest.mark.slow  # module fixtures run the suite in subprocesses

ALL = "all-at-once"


def _runs(tmp_path_factory: pytest.TempPathFactory, names: list[str],
          concurrency: int) -> dict[str, SuiteRun]:
    """One suite run per name (a variant, or ALL of them), two at a time (two cores)."""
    def one(name: str) -> tuple[str, SuiteRun]:
        reports = tmp_path_factory.mktemp(f"variant-{name}-c{concurrency}")
        chosen = ",".join(sorted(VARIANTS)) if name == ALL else name
        return name, run_suite(reports, RC_SIM_VARIANTS=chosen,
                               RC_CONCURRENCY=str(concurrency))

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(one, names))


# Refuses what comes in while 2 CORE requests are in flight: a concurrent run meets it, a
# run one request at a time never does (both pass; their evidence differs by design).
IN_FLIGHT = "rate-limit-in-flight"


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SuiteRun]:
    """Every variant and all at once, 4 requests in flight (the default)."""
    return _runs(tmp_path_factory, [*sorted(VARIANTS), ALL], 4)


@pytest.fixture(scope="module")
def one_at_a_time(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SuiteRun]:
    """Every variant but rate-limit-in-flight, one request at a time."""
    return _runs(tmp_path_factory, [v for v in sorted(VARIANTS) if v != IN_FLIGHT], 1)


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


@pytest.mark.parametrize("variant", sorted(v for v in VARIANTS if v != IN_FLIGHT))
def test_concurrency_changes_no_verdict_bundle_or_order(matrix: dict[str, SuiteRun],
                                                        one_at_a_time: dict[str, SuiteRun],
                                                        variant: str) -> None:
    """RC_CONCURRENCY=4 and 1 give the same verdicts, check order, warnings and HAR."""
    assert matrix[variant].returncode == one_at_a_time[variant].returncode == 0
    assert differences(one_at_a_time[variant].reports, matrix[variant].reports) == []
