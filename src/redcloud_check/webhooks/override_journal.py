"""A killed run's webhook override, restored from its journal by the next command.

After a SIGKILL the number's webhookDeliveryOverride may still point at a listener of ours
that is gone. The journal the run wrote before its PATCH (webhooks.override) lets the next
command with the credentials (every run, every probe, the read-only one included: restoring
our own change is the safe write) put the original back, when the number still holds the
killed run's URL. Until it is restored the number is misrouted: `RecoveryResult.problem`
names the number and the URL, and the run or probe is unhealthy.

Public surface: `recover_from_journal`, `recover_at_start`, `still_misrouted`.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

from redcloud_check.core.errors import TargetUnreachable
from redcloud_check.webhooks.override import (
    FIELD,
    SAFETY,
    RecoveryResult,
    journal_path,
    patch_field,
    read_number,
    same_value,
    shown,
)

if TYPE_CHECKING:
    from redcloud_check.context import RunContext

__all__ = ["recover_at_start", "recover_from_journal", "still_misrouted"]


def _pid_alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_from_journal(rc: RunContext) -> RecoveryResult | None:
    """Restore an override a killed run left behind (same base URL and client); else None.

    Never raises; says what it did as a finding. A number it could not restore (or an
    unreadable journal) is a result with `misrouted` set, whose `problem` names the number and
    the URL; the journal is then kept for the next command.
    """
    path = journal_path(rc.settings)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        return _said(rc, RecoveryResult(
            rc.settings.number_id, False, f"the override journal {path} is unreadable "
            f"({type(error).__name__}); it may be for another number: check their {FIELD} and "
            "delete the file", misrouted=True))
    if not isinstance(record, dict) or record.get("baseUrl") != rc.client.base_url \
            or record.get("clientId") != rc.settings.client_id:
        return None  # another target's journal: not ours to touch
    number_id = str(record.get("numberId"))
    if _pid_alive(record.get("pid")):
        return RecoveryResult(number_id, False, f"run pid {record['pid']} that wrote {path} is "
                              "still alive; left alone")
    original, ours = record.get("original"), record.get("publicUrl")
    ours = ours if isinstance(ours, str) else None
    try:
        result = _restore_recorded(rc, number_id, original, ours)
    except TargetUnreachable as error:
        result = RecoveryResult(number_id, False, f"{error}; journal {path} kept",
                                misrouted=True, url=ours)
    if not result.misrouted:
        path.unlink(missing_ok=True)
    return _said(rc, result)


def _said(rc: RunContext, result: RecoveryResult) -> RecoveryResult:
    """The recovery as a finding: a warning while misrouted, else info."""
    if result.problem is not None:
        rc.warn("Webhook override left misrouted by a killed run", result.problem, SAFETY,
                stage="webhooks")
    else:
        rc.warn("Webhook override journal recovered", result.detail, SAFETY, stage="webhooks",
                severity="info")
    return result


def _restore_recorded(rc: RunContext, number_id: str, original: object,
                      ours: str | None) -> RecoveryResult:
    """Put `original` back on `number_id` if it still holds `ours`; read back to verify."""
    path = journal_path(rc.settings)
    if ours is None:
        return RecoveryResult(number_id, False, f"the journal {path} names no listener URL; "
                              f"check the number's {FIELD} by hand", misrouted=True)
    read, number = read_number(rc, "webhooks: read number for journal recovery", number_id)
    if number is None:
        return RecoveryResult(number_id, False, f"cannot read {number_id} to restore it (HTTP "
                              f"{read.status}); journal {path} kept", misrouted=True, url=ours)
    current = number.get(FIELD)
    if not same_value(current, ours):
        return RecoveryResult(number_id, False, f"{FIELD} of {number_id} is {shown(current)}, "
                              "no longer the killed run's listener; left as is")
    value = original if isinstance(original, str) else None
    _, _, stored, took = patch_field(rc, value, "webhooks: restore override from journal",
                                number_id)
    if not took:
        return RecoveryResult(number_id, False, f"restoring it from {path} did not take effect "
                              f"(stored {shown(stored)}); journal kept", misrouted=True,
                              url=ours)
    return RecoveryResult(number_id, True, f"an earlier run was killed with the override in "
                          f"place; {FIELD} of {number_id} restored to {shown(value)}")


def recover_at_start(rc: RunContext) -> RecoveryResult | None:
    """`recover_from_journal` at the start of a command with the credentials (run, probe);
    a number it left misrouted is the ledger's `misrouted` (its `problem`) for the whole
    command."""
    recovery = recover_from_journal(rc)
    if recovery is not None and recovery.problem is not None:
        rc.ledger.note_misrouted(recovery.problem)
    return recovery


def still_misrouted(rc: RunContext) -> str | None:
    """Once the command's webhook session is closed: the ledger's `misrouted`, with the
    problem of its own restore added (once) when that failed. None when no number is left
    misrouted."""
    restore = getattr(rc.webhooks, "restore_result", None)
    known = rc.ledger.misrouted
    if restore is not None and restore.problem is not None \
            and restore.problem not in (known or ""):
        rc.ledger.note_misrouted("; ".join(p for p in (known, restore.problem) if p))
    return rc.ledger.misrouted
