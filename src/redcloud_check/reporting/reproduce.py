"""Whether a failure reproduces: the failing request sent ONCE more, only where that is safe.

Safe: GET/HEAD, POST /api/auth/token (unless it was refused: a refused pair is never sent
again), POST /api/core/numbers/search, and a send that carries an Idempotency-Key only to
the embedded simulator. Otherwise the bundle says why it was not retried. A send to a remote
target (anything but the embedded simulator) is never sent again, keyed or not: a target
whose idempotency is broken would queue one more real message ("not retried: a send"). A
request carrying a deliberately wrong credential is never sent again either: it would spend
the run's wrong-credential budget (rules/credentials.py) on an account's lockout count. The
one retry reuses the very same request (the same token: a fresh one would hide a token the
API stopped honouring) and says so.

Public surface: `replay_policy`, `reproduce`, `outcome`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from redcloud_check.core.errors import TargetUnreachable
from redcloud_check.core.exchange import Exchange

__all__ = ["outcome", "replay_policy", "reproduce"]

SAFE_POSTS = {"/api/auth/token": "a token request does not change state on the target",
              "/api/core/numbers/search": "a number search only reads inventory"}

def _header(exchange: Exchange, name: str) -> str | None:
    return next((v for k, v in exchange.request_headers.items() if k.lower() == name), None)


SEND_PATH = "/api/core/messages/send"
REMOTE_SEND = ("a send (never sent twice to a remote target: a broken idempotency there "
               "would queue one more real message)")


TOKEN_PATH = "/api/auth/token"
REFUSED_PAIR = ("a refused credential (never sent again: a wrong secret costs two token "
                "requests at most, so that an account with a lockout policy stays safe)")
WRONG_CREDENTIAL = ("a deliberately wrong credential (sent once: the run's wrong-credential "
                    "budget keeps an account with a lockout policy safe)")


def replay_policy(exchange: Exchange | None, *, embedded: bool = False) -> tuple[bool, str]:
    """(safe to send once more, why). `embedded`: the target is the embedded simulator;
    anything else is remote, where no send is ever repeated."""
    if exchange is None:
        return False, "no HTTP request was recorded for this check"
    if exchange.error_kind == "timeout":
        return False, "the first attempt already waited the whole RC_TIMEOUT"
    if exchange.wrong_credential:
        return False, WRONG_CREDENTIAL
    if exchange.path == TOKEN_PATH and exchange.status in (400, 401, 403):
        return False, REFUSED_PAIR
    method, path = exchange.method.upper(), exchange.path
    if method in ("GET", "HEAD"):
        return True, f"{method} is read-only"
    if method == "POST" and path in SAFE_POSTS:
        return True, SAFE_POSTS[path]
    if method == "POST" and path == SEND_PATH:
        if not embedded:
            return False, REMOTE_SEND
        if _header(exchange, "idempotency-key"):
            return True, ("the same Idempotency-Key and payload return the stored response "
                          "(4-sending-messages.txt, Idempotency behavior)")
        return False, "a send without Idempotency-Key could create a duplicate message"
    if method == "PATCH":
        return False, "PATCH changes number settings"
    return False, f"{method} {path} may change state on the target"


def outcome(exchange: Exchange) -> dict[str, Any]:
    return {"status": exchange.status, "error_code": exchange.error_code,
            "error_kind": exchange.error_kind}


def _describe(outcome: Mapping[str, Any]) -> str:
    if outcome["status"] is None:
        return f"no answer ({outcome['error_kind']})"
    code = f" {outcome['error_code']}" if outcome["error_code"] else ""
    return f"HTTP {outcome['status']}{code}"


def reproduce(exchange: Exchange | None, replay: Callable[[Exchange], Exchange] | None, *,
              embedded: bool = False) -> tuple[dict[str, Any], Exchange | None]:
    """Send the failing request once more where safe; compare status and error code."""
    safe, why = replay_policy(exchange, embedded=embedded)
    result: dict[str, Any] = {"retried": False, "consistent": None, "policy": why,
                              "first": outcome(exchange) if exchange else None,
                              "replay": None, "note": f"not retried: {why}"}
    if not safe or exchange is None:
        return result, None
    if replay is None:
        result["note"] = "not retried: no client to replay with"
        return result, None
    again: Exchange | None
    try:
        again = replay(exchange)
    except TargetUnreachable as error:
        again = None
        second = {"status": None, "error_code": None, "error_kind": error.kind}
    else:
        second = outcome(again)
    first = result["first"]
    consistent = first == second
    result.update(retried=True, consistent=consistent, replay=second)
    verb = "reproduced" if consistent else "did not reproduce"
    result["note"] = (f"{verb}: {_describe(first)}, then {_describe(second)} on one retry "
                      f"{_reused(exchange)} (compared: status and error code)")
    return result, again


def _reused(exchange: Exchange) -> str:
    """What the one retry reused, and why: the very same request, so that its answer tells
    whether the failure reproduces (a fresh token would hide a token refused early)."""
    bearer = any(k.lower() == "authorization" and v.lower().startswith("bearer ")
                 for k, v in exchange.request_headers.items())
    if bearer:
        age = f", {exchange.token_age_s:g} s old when first sent" \
            if exchange.token_age_s is not None else ""
        return (f"with the same token{age} (not a fresh one: a fresh token would hide a "
                "token the API stopped honouring)")
    return "with the same request (headers and body)"
