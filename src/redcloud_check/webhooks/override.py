"""The number's webhookDeliveryOverride, pointed at the listener and restored on every exit.

In RC_WEBHOOK_MODE=override the suite PATCHes the RC_NUMBER_ID number so its lifecycle
webhooks reach the suite's listener (3-api-reference-0.2.0.txt, Update number settings;
DESIGN.md: the target is the number's webhookDeliveryOverride). Order of work:

    1. read the number (GET /api/core/numbers) and remember the original value
    2. write a journal (reports_dir/.webhook-override-journal.json, atomically) BEFORE the PATCH
    3. PATCH /api/core/numbers/{id} {"webhookDeliveryOverride": public_url}
    4. read the number again: the PATCH answer may echo the new value while nothing was stored

Restore (PATCH the original back, null included; read back; delete the journal) runs on
normal exit, failure, Ctrl-C, SIGTERM (a handler raising KeyboardInterrupt while the override
is active, so pytest tears down) and atexit. After a SIGKILL, `recover_from_journal` restores
it at the start of the next command that has the credentials (every run, every probe, the
read-only one included: restoring our own change is the safe write). Until it is restored,
the result says the number is misrouted (`RecoveryResult.problem`, naming the number and the
URL) and every run and probe reports it as unhealthy. While a journal is not recovered, no
new override is applied: it would take the misrouted URL for the original.

Public surface: `WebhookOverride`, `OverrideStatus`, `RecoveryResult`, `journal_path`; the
journal's recovery is webhooks.override_journal's (`recover_from_journal`, `recover_at_start`
and `still_misrouted`: what `run` and `probe` call).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from redcloud_check.core.config import Settings
from redcloud_check.core.errors import RedcloudCheckError
from redcloud_check.core.exchange import Exchange
from redcloud_check.core.files import atomic_write
from redcloud_check.core.timefmt import iso_utc
from redcloud_check.core.urls import without_userinfo

if TYPE_CHECKING:  # the run context opens the session, whose override this is
    from redcloud_check.context import RunContext

FIELD = "webhookDeliveryOverride"
JOURNAL_NAME = ".webhook-override-journal.json"
CLAUSE = "3-api-reference-0.2.0.txt, CORE: Update number settings (webhookDeliveryOverride)"
SAFETY = "DESIGN.md, Safety (the webhook override is restored on every exit path)"


@dataclass(frozen=True, slots=True)
class OverrideStatus:
    """Whether the override took effect; `exchange` is the PATCH, `check` the read-back."""

    ok: bool
    detail: str
    original: str | None = None
    target: str | None = None
    stored: str | None = None
    exchange: Exchange | None = None
    check: Exchange | None = None


@dataclass(frozen=True, slots=True)
class RecoveryResult:
    """What became of an override of ours. `misrouted`: the number may still point at a
    listener of ours that is gone (`url`, when known), so its delivery events go nowhere."""

    number_id: str
    restored: bool
    detail: str
    misrouted: bool = False
    url: str | None = None

    @property
    def problem(self) -> str | None:
        """For a misrouted number: the unhealthy finding, naming the number and the URL."""
        if not self.misrouted:
            return None
        where = shown(self.url) if self.url else "a URL the journal no longer tells"
        return (f"{FIELD} of {self.number_id} still points at {where}, a redcloud-check "
                f"listener that is gone: its delivery events go nowhere until it is restored "
                f"({self.detail})")


def journal_path(settings: Settings) -> Path:
    return Path(settings.reports_dir) / JOURNAL_NAME


def shown(url: str | None) -> str:
    """A URL for messages: no query, fragment or userinfo (they may carry tokens)."""
    return "null" if url is None else without_userinfo(url)


def read_number(rc: RunContext, label: str, number_id: str | None = None
                ) -> tuple[Exchange, dict[str, Any] | None]:
    """GET /api/core/numbers and the entry of `number_id` (default RC_NUMBER_ID); None when
    absent or unreadable."""
    wanted = number_id or rc.settings.number_id
    exchange = rc.core("GET", "/api/core/numbers", label=label)
    body = exchange.json_or_none() if exchange.status == 200 else None
    numbers = body.get("numbers") if isinstance(body, dict) else None
    for number in numbers if isinstance(numbers, list) else []:
        if isinstance(number, dict) and number.get("numberId") == wanted:
            return exchange, number
    return exchange, None


def same_value(a: object, b: object) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.rstrip("/") == b.rstrip("/")
    return a == b


def answered(patch: Exchange) -> object:
    """The field's value in the PATCH's answer (the number as updated), or MISSING."""
    body = patch.json_or_none() if patch.status is not None and 200 <= patch.status < 300 \
        else None
    return body.get(FIELD, MISSING) if isinstance(body, dict) else MISSING


MISSING = object()  # the answer did not say


def patch_field(rc: RunContext, value: str | None, label: str, number_id: str | None = None
           ) -> tuple[Exchange, Exchange, str | None, bool]:
    """PATCH the field of `number_id` (default RC_NUMBER_ID) to `value`, read it back:
    (patch, read, stored value, stored as written). Every write the run makes is verified
    both ways: the read-back here, the answer by `reflects`."""
    number_id = number_id or rc.settings.number_id
    patch = rc.core("PATCH", f"/api/core/numbers/{number_id}", json={FIELD: value},
                    label=label)
    check, number = read_number(rc, label + " (read back)", number_id)
    stored = number.get(FIELD) if number is not None else None
    return patch, check, stored, number is not None and same_value(stored, value)


def reflects(patch: Exchange, value: str | None) -> bool:
    """The PATCH's answer (the number as updated) shows `value`, or does not say."""
    said = answered(patch)
    return said is MISSING or same_value(said, value)


class WebhookOverride:
    """Points RC_NUMBER_ID's webhookDeliveryOverride at `public_url` until `restore()`."""

    def __init__(self, rc: RunContext, public_url: str) -> None:
        self.rc = rc
        self.public_url = public_url
        self.journal = journal_path(rc.settings)
        self.status: OverrideStatus | None = None
        self._original: str | None = None
        self._active = False
        self._lock = threading.Lock()
        self._previous_sigterm: Any = None
        self._sigterm_installed = False

    @property
    def active(self) -> bool:
        """True while the number may point at us and needs restoring."""
        return self._active

    def apply(self) -> OverrideStatus:
        """Set and verify the override. Never raises for one that did not take effect.

        Raises RedcloudCheckError, before any request, while a journal of another run is in
        the reports dir: overriding again would record its misrouted URL as the original."""
        rc = self.rc
        if self.journal.exists():
            raise RedcloudCheckError(
                f"the override journal {self.journal} of another run is still there (a live "
                "run, another target, or an override not yet restored): no second override "
                f"is applied, as it would take that run's URL for the number's original "
                f"{FIELD}")
        read, number = read_number(rc, "webhooks: read number before override")
        if number is None:
            self.status = OverrideStatus(False, f"{rc.settings.number_id} not readable from "
                                         f"GET /api/core/numbers (HTTP {read.status})",
                                         target=self.public_url, check=read)
            return self.status
        self._original = original = number.get(FIELD)
        atomic_write(self.journal, json.dumps({
            "numberId": rc.settings.number_id, "original": original,
            "baseUrl": rc.client.base_url, "clientId": rc.settings.client_id,
            "publicUrl": self.public_url, "pid": os.getpid(),
            "createdAt": iso_utc()}, indent=2))
        self._arm()
        patch, check, stored, took = patch_field(rc, self.public_url,
                                            "webhooks: set webhookDeliveryOverride")
        said = answered(patch)
        stored_ok, took = took, took and reflects(patch, self.public_url)
        if took:
            detail = (f"{FIELD} set to {shown(self.public_url)}, as the PATCH answered and "
                      "reading it back agrees")
        elif said is not MISSING and not same_value(said, self.public_url) and \
                same_value(stored, self.public_url):
            detail = (f"the PATCH answered {FIELD} {shown(str(said) if said else None)}, not "
                      "the value written "
                      f"({shown(self.public_url)}), although reading it back shows it stored")
        elif patch.status is not None and 200 <= patch.status < 300:
            detail = (f"PATCH answered HTTP {patch.status} but the stored {FIELD} is still "
                      f"{shown(stored)} (expected {shown(self.public_url)})")
        else:
            detail = f"PATCH answered HTTP {patch.status}; stored {FIELD} is {shown(stored)}"
        if not stored_ok and same_value(stored, original):
            self._disarm()  # nothing changed on the number: nothing to restore
        self.status = OverrideStatus(took, detail, original, self.public_url, stored, patch,
                                     check)
        return self.status

    def restore(self) -> RecoveryResult | None:
        """Put the original value back and read it back; idempotent. None when inactive."""
        with self._lock:
            if not self._active:
                return None
            patch, _, stored, took = patch_field(self.rc, self._original,
                                            "webhooks: restore webhookDeliveryOverride")
            if took and not reflects(patch, self._original):
                self.rc.warn("The restore PATCH answered another value than it wrote",
                             f"{FIELD} read back is {shown(self._original)} as written, but "
                             f"the PATCH answered {shown(str(answered(patch)))}: the answer "
                             "does not reflect the write.", SAFETY, stage="webhooks")
            if not took:
                return RecoveryResult(self.rc.settings.number_id, False,
                                      f"{FIELD} is {shown(stored)} after the restore PATCH, not "
                                      f"{shown(self._original)}; the journal {self.journal} "
                                      "is kept so the next run retries",
                                      misrouted=True, url=self.public_url)
            self._disarm()
            return RecoveryResult(self.rc.settings.number_id, True,
                                  f"{FIELD} restored to {shown(self._original)}")

    # -- exit paths ------------------------------------------------------------------------

    def _arm(self) -> None:
        self._active = True
        atexit.register(self._at_exit)
        if threading.current_thread() is threading.main_thread():
            self._previous_sigterm = signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
            self._sigterm_installed = True

    def _disarm(self) -> None:
        self._active = False
        with contextlib.suppress(OSError):
            self.journal.unlink()
        atexit.unregister(self._at_exit)
        if self._sigterm_installed and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._previous_sigterm or signal.SIG_DFL)
            self._sigterm_installed = False

    def _at_exit(self) -> None:
        """Last resort, at interpreter exit: a restore the target did not take is left to
        the journal, which the next run recovers, and said on stderr; a bug of ours is not
        caught here (atexit prints its traceback)."""
        try:
            self.restore()
        except (RedcloudCheckError, OSError) as error:  # the target is gone, a file failed
            import sys

            print(f"redcloud-check: the webhook override of {self.rc.settings.number_id} "
                  f"could not be restored at exit ({type(error).__name__}); the journal "
                  f"{self.journal} restores it on the next run", file=sys.stderr)

    def __enter__(self) -> WebhookOverride:
        self.apply()
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()


def _sigterm_to_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum} (SIGTERM): restoring the webhook override")
