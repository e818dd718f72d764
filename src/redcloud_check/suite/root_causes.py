"""Each failure, as it is recorded, attributed to a root cause (reporting.attribution): a
failure explained by an earlier one is listed under that root cause and gets no bundle of
its own; a new one leads a root cause, its failure carrying the attribution's `Cause` so
that its bundle leads with the same cause and side.

    attribute_failure(run, result) -> (result, group)
    found(run, result, group)            the new root cause, once its bundle is built
    explained_line(root)                 what an explained failure shows in the terminal
"""

from __future__ import annotations

from dataclasses import replace

from redcloud_check.core.errors import CheckFailure
from redcloud_check.reporting.attribution import Attribution, attribute
from redcloud_check.reporting.diagnosis import diagnose
from redcloud_check.reporting.evidence import failing_exchange
from redcloud_check.reporting.ruled_out import facts_from
from redcloud_check.results.ledger import CheckResult, Outcome, RootCause
from redcloud_check.rules.stages import STAGES, stage_index
from redcloud_check.suite.run import SuiteRun

__all__ = ["attribute_failure", "explained_line", "found"]


def attribute_failure(run: SuiteRun,
                      result: CheckResult) -> tuple[CheckResult, Attribution | None]:
    """`result` explained by an earlier root cause (`explained_by` set; no attribution
    returned), or with the attribution of the root cause it will lead."""
    rc, problem = run.rc, result.problem
    if rc is None or problem is None or not result.unproven:
        return result, None
    seen = rc.recorder.all()
    exchange = failing_exchange(problem, rc.recorder.for_check(result.nodeid))
    diagnosis = diagnose(problem, stage=result.stage, check=result.check_id, exchange=exchange,
                         timeout=rc.settings.timeout,
                         facts=facts_from(seen, rc.settings.number_id)).as_dict()
    attribution = attribute(problem, result.check_id, exchange, seen, diagnosis,
                            _proven(run, result))
    earlier = run.ledger.root(attribution.key)
    if earlier is not None:
        run.ledger.explain(attribution.key, result.check_id)
        return replace(result, explained_by=earlier.cause.id), None
    if isinstance(problem, CheckFailure) and problem.cause is None \
            and attribution.cause.id != diagnosis["lead"]["cause"]:
        problem.cause = attribution.cause  # the bundle then leads with the root cause
    return result, attribution


def _proven(run: SuiteRun, result: CheckResult) -> tuple[str, ...]:
    """For a check that is not its stage's gate: the gates up to its stage, when every one
    of them passed (the settings its request uses are then proven right)."""
    if result.spec.gate:
        return ()
    ids = [s.gate_id for s in STAGES[:stage_index(result.stage) + 1]]
    gates = [run.ledger.by_id(i) for i in ids]
    if all(g is not None and g.outcome is Outcome.PASSED for g in gates):
        return tuple(ids)
    return ()


def found(run: SuiteRun, result: CheckResult, attribution: Attribution) -> None:
    """Record the root cause `result` leads."""
    run.ledger.add_root(attribution.key, RootCause(attribution.cause, (result.check_id,),
                                                   result.nodeid))


def explained_line(root: RootCause) -> str:
    return (f"  explained: by root cause {root.cause.id} [{root.cause.side}], first seen in "
            f"{root.checks[0]}: {root.title}")
