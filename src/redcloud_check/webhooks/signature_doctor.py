"""The signature doctor: why deliveries at the webhook path fail, and whose side that is on.

A delivery fails when redcloud-check's listener refuses its signature, or when the docs' own
listener would refuse it (`webhooks.reference`, DESIGN.md: reference receiver) although ours
accepted it. `examine` judges every delivery that reached the webhook path both ways and, for
each failing one, finds how its signature was made (`webhooks.forensics`); `signature_cause`
turns what it found into the one `Cause` stage 5 leads with, its side proven or "unknown":

    listener-stricter      ours refused what the docs' listener accepts            tool
    docs-listener-refuses  the documented signature, in a request the docs'        api
                           listener refuses (not application/json, a repeated
                           header, over 100 kB, not UTF-8, ...)
    signed-body-differs    RC_WEBHOOK_SECRET verifies, over a re-serialization     api
                           of the body (pretty-printed, keys sorted, ...)
    hmac-body-only         RC_WEBHOOK_SECRET verifies, over the raw body only      api
    signature-variant      RC_WEBHOOK_SECRET verifies, in another construction     api
                           (upper-case hex, 'sha256=', base64, seconds, ...)
    webhook-secret-form    RC_WEBHOOK_SECRET verifies once trimmed, without a      integration:
                           'whsec_' prefix, or base64-decoded to text              the setting
                           ... base64-decoded to bytes no text value can hold      api
    wrong-signing-key      an access token issued in this run verifies             api
                           RC_CLIENT_SECRET verifies (the docs' example uses one   unknown
                           value for both secrets: which one is the webhook's?)
    signature-unexplained  none of the N combinations tried verifies               unknown

Every cause cites the deliveries (time, path, the events their bodies claim) and the
combination that verified, by label only: no key or digest ever leaves this module.

Public surface: `Finding`, `Forensics`, `examine`, `consistent_failure`, `signature_cause`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redcloud_check.core.models import Cause
from redcloud_check.webhooks.delivery_view import cite
from redcloud_check.webhooks.forensics import (
    AS_STORED,
    BODY_ONLY,
    DOCS,
    HEX,
    NOT_TEXT,
    RAW,
    SIGNED,
    WEBHOOK_KEY,
    Signing,
    Space,
    keys_shown,
    try_signature,
)
from redcloud_check.webhooks.listener import Delivery
from redcloud_check.webhooks.reference import REFERENCE, Verdict, judge

__all__ = ["Finding", "Forensics", "consistent_failure", "examine", "signature_cause"]

REPORT = "Report it to Red Cloud with this bundle"
# refusals of the request itself, whatever its signature
_REQUEST_CODES = frozenset({"no-json-body", "charset", "content-encoding", "too-large",
                            "invalid-json", "repeated-header", "not-utf8"})


@dataclass(frozen=True, slots=True)
class Finding:
    """One signed delivery at the webhook path: the docs' listener's verdict, and for a
    failing one how its signature was made (None: nothing tried reproduces it)."""

    delivery: Delivery
    verdict: Verdict
    signing: Signing | None = None
    space: Space | None = None

    @property
    def failing(self) -> bool:
        return not self.delivery.verified or self.verdict.refused


@dataclass(frozen=True, slots=True)
class Forensics:
    """Every delivery that reached the webhook path, as the doctor judged it."""

    at_path: int  # POSTs that reached the webhook path
    verified: int  # accepted by redcloud-check's verifier
    unsigned: int  # without X-RedCloud-Timestamp / X-RedCloud-Signature
    findings: tuple[Finding, ...]  # the signed ones
    keys_tried: tuple[str, ...]

    @property
    def failing(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.failing)

    @property
    def signings(self) -> tuple[tuple[Signing | None, int], ...]:
        """The failing deliveries' signings, most common first."""
        return tuple(Counter(f.signing for f in self.failing).most_common())

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (escalation.json's webhooks.signatures): labels only."""
        judged = [x.verdict for x in self.findings if x.verdict.status is not None]
        spaces = [x.space for x in self.failing if x.space is not None]
        widest = max(spaces, key=lambda s: s.combinations) if spaces else None
        return {
            "failing": len(self.failing),
            "docs_listener": {"accepted": sum(1 for v in judged if v.accepted),
                              "refused": sum(1 for v in judged if v.refused),
                              "not_judged": len(self.findings) - len(judged)},
            "made_with": [{"count": n, "signing": None if s is None else s.describe(),
                           "documented": s is not None and s.documented}
                          for s, n in self.signings],
            "tried": None if widest is None else {
                "combinations": widest.combinations, "key_count": len(widest.keys),
                "keys": list(widest.keys_shown()),
                "bodies": list(widest.bodies), "messages": list(widest.messages),
                "encodings": list(widest.encodings)},
        }

    def keys_shown(self) -> str:
        """The keys tried, in words: 'RC_WEBHOOK_SECRET, RC_CLIENT_SECRET and the 4 access
        tokens issued in this run'."""
        named = keys_shown(self.keys_tried)
        if not named:
            return "no key"
        return ", ".join(named[:-1]) + (" and " if len(named) > 1 else "") + named[-1]


def _signed(d: Delivery) -> bool:
    return bool(d.timestamp) and bool(d.headers.get("x-redcloud-signature"))


def examine(deliveries: Sequence[Delivery], keys: Mapping[str, str]) -> Forensics:
    """Judge every delivery at the webhook path as the docs' listener would (with
    RC_WEBHOOK_SECRET from `keys`, label -> value), and try every failing signature."""
    at_path = [d for d in deliveries if d.status_returned not in (404, 405)]
    secret = keys.get(WEBHOOK_KEY, "")
    findings = []
    for d in at_path:
        if not _signed(d):
            continue
        verdict = judge(d, secret)
        if (d.verified and not verdict.refused) or d.status_returned == 413:
            findings.append(Finding(d, verdict))
            continue
        # a repeated header is searched by its first value, as our verifier read it
        signature = d.headers["x-redcloud-signature"].split(", ")[0]
        signing, tried = try_signature(keys, d.timestamp or "", d.raw_body, signature)
        findings.append(Finding(d, verdict, signing, tried))
    return Forensics(len(at_path), sum(1 for d in at_path if d.verified),
                     sum(1 for d in at_path if not _signed(d)), tuple(findings),
                     tuple(label for label, v in keys.items() if v))


def consistent_failure(f: Forensics) -> bool:
    """Every delivery so far failed, for one and the same reason, and none verified."""
    if f.verified or not f.at_path:
        return False
    if f.unsigned:
        return f.unsigned == f.at_path
    return len(f.signings) == 1 and len(f.failing) == f.at_path


def _store(form: str) -> str:
    if "whitespace" in form:
        return ("Store RC_WEBHOOK_SECRET without the whitespace around it (a trailing newline "
                "from a file, or spaces inside .env quotes, are the usual sources)")
    if "base64" in form:
        strip = form.split(",")[0].replace("without its", "without the") + ", " \
            if "prefix" in form else ""
        return (f"Store RC_WEBHOOK_SECRET {strip}base64-decoded (e.g. printf %s \"$VALUE\" | "
                "base64 -d): it now holds the secret's base64 encoding, as a Kubernetes "
                "Secret's data field does")
    return f"Store RC_WEBHOOK_SECRET {form.replace('without its', 'without the')}"


def _secret_form_cause(s: Signing, who: str, evidence: tuple[str, ...]) -> Cause:
    form = s.key_form.replace(NOT_TEXT, "")
    if NOT_TEXT not in s.key_form:
        return Cause(
            "webhook-secret-form", f"{who} deliveries' signatures verify with "
            f"{WEBHOOK_KEY} {form}, not with {WEBHOOK_KEY} as stored: the setting holds the "
            "secret in another form than the one the deliveries are signed with.",
            f"{_store(form)}. If Red Cloud shows the secret in the form you stored, its "
            "signing and its display disagree (the docs sign with the secret as given): tell "
            "Red Cloud.", SIGNED, side="integration", evidence=evidence, setting=WEBHOOK_KEY)
    return Cause(
        "webhook-secret-form", f"{who} deliveries' signatures verify only with "
        f"{WEBHOOK_KEY} {form}: bytes that are not text, a key the docs' listener cannot hold "
        f"(it gives {WEBHOOK_KEY} to createHmac as a string, used as its UTF-8 bytes), so no "
        f"value of {WEBHOOK_KEY} makes it verify them.",
        f"{REPORT}: the API signs with the secret {form} (the Standard Webhooks convention), "
        f"the docs with the secret as given. {WEBHOOK_KEY} is right: it verifies every "
        "delivery once decoded.", SIGNED, side="api", evidence=evidence)


def _wrong_key_cause(s: Signing, who: str, evidence: tuple[str, ...]) -> Cause:
    if "access token" in s.key:
        return Cause(
            "wrong-signing-key", f"{who} deliveries' signatures verify with {s.key}, not "
            f"with {WEBHOOK_KEY}: the API signs webhooks with a bearer token it issued "
            "during this run, which no webhook setting can hold.",
            f"{REPORT}; {WEBHOOK_KEY} is not at fault: no value of it could match a token "
            "issued during the run.", SIGNED, side="api", evidence=evidence)
    return Cause(
        "wrong-signing-key", f"{who} deliveries' signatures verify with {s.key}, not "
        f"{WEBHOOK_KEY}. The docs do not say the two secrets differ (their listener's example "
        "webhook secret is their example client secret): either this client's webhook secret "
        f"is its client secret and {WEBHOOK_KEY} holds another value, or the API signs with "
        "the client secret instead of the webhook secret.",
        f"If the webhook signing secret Red Cloud shows for this client is the client secret, "
        f"set {WEBHOOK_KEY} to it; if it is {WEBHOOK_KEY}'s value, the API signs with the "
        f"wrong key: {REPORT[0].lower()}{REPORT[1:]}.", SIGNED,
        side="unknown", evidence=evidence,
        decide="the webhook signing secret Red Cloud shows for this client")


def _departures(s: Signing) -> list[str]:
    """How a signature made with RC_WEBHOOK_SECRET departs from the docs, in words."""
    out = [] if s.key_form == AS_STORED else [f"with the key {s.key_form}"]
    if s.message != DOCS:
        out.append(f"over {s.message} instead of \"{{timestamp}}.{{rawBody}}\"")
    if s.encoding != HEX:
        out.append(f"written as {s.encoding} instead of lower-case hex")
    return out


def _signing_cause(s: Signing, who: str, evidence: tuple[str, ...],
                   ours_accepted: bool) -> Cause:
    if s.key != WEBHOOK_KEY:
        return _wrong_key_cause(s, who, evidence)
    departures = _departures(s)
    if s.key_form != AS_STORED and s.body == RAW and len(departures) == 1:
        return _secret_form_cause(s, who, evidence)
    right = f"{WEBHOOK_KEY} is right: it verifies them"
    if s.body != RAW:
        also = f" (and {', '.join(departures)})" if departures else ""
        return Cause(
            "signed-body-differs", f"{who} deliveries' signatures verify with {WEBHOOK_KEY} "
            f"over the body {s.body}{also}, not over the bytes that were sent: the API signs "
            "a re-serialization of the event, while the docs verify HMAC_SHA256(secret, "
            "\"{timestamp}.{rawBody}\") over the raw body as received.",
            f"{REPORT}: webhooks must be signed over the exact bytes sent. {right}; do not "
            "re-serialize the body in your listener to make it verify.", SIGNED, side="api",
            evidence=evidence)
    if s.message == BODY_ONLY and departures == [f"over {BODY_ONLY} instead of "
                                                 "\"{timestamp}.{rawBody}\""]:
        return Cause(
            "hmac-body-only", f"{who} deliveries' signatures are an HMAC of the raw body "
            "only; the docs sign \"{timestamp}.{rawBody}\".",
            f"{REPORT}: the sender must include the timestamp and '.' before the body. "
            f"{right}.", SIGNED, side="api",
            evidence=evidence)
    lenient = (" redcloud-check's own verifier compares case-insensitively and accepted them; "
               "the docs' listener compares with !== and answers 401 Invalid signature to "
               "every one." if ours_accepted else "")
    return Cause(
        "signature-variant", f"{who} deliveries' signatures are HMAC-SHA256 with "
        f"{WEBHOOK_KEY}, but {' and '.join(departures)}.{lenient}",
        f"{REPORT}: the construction is not the documented hex(HMAC_SHA256(secret, "
        f"\"{{timestamp}}.{{rawBody}}\")). {right}.",
        SIGNED, side="api", evidence=evidence)


def _unexplained(failing: Sequence[Finding], f: Forensics, url: str,
                 evidence: tuple[str, ...]) -> Cause:
    spaces = [x.space for x in failing if x.space is not None]
    widest = max(spaces, key=lambda s: s.combinations) if spaces else None
    counts = f" with any key this run holds ({f.keys_shown()})" if widest is None else (
        f", and none of the {widest.combinations} combinations tried on each verifies them: "
        f"{len(widest.keys)} keys ({'; '.join(widest.keys_shown())}) x {len(widest.bodies)} "
        f"bodies x {len(widest.messages)} messages x {len(widest.encodings)} encodings, each "
        "listed in the evidence")
    listed = () if widest is None else tuple(
        f"tried on each delivery, {what}: {'; '.join(items)}" for what, items in (
            ("keys", widest.keys_shown()), ("bodies", widest.bodies),
            ("messages", widest.messages), ("encodings", widest.encodings)))
    return Cause(
        "signature-unexplained", f"{len(failing)} signed deliveries arrived at {url}"
        + (" and none verifies" if widest is None else "") + f"{counts}.",
        f"Compare {WEBHOOK_KEY}, character for character, with the webhook signing secret "
        "Red Cloud shows for this client. If they differ, the setting is wrong; if they are "
        "the same, the API signs in a way none of these combinations covers: "
        f"{REPORT[0].lower()}{REPORT[1:]} (it holds the signed bytes and both headers).",
        SIGNED, side="unknown", evidence=evidence + listed,
        decide=f"whether {WEBHOOK_KEY} is, character for character, the webhook signing "
        "secret Red Cloud shows for this client")


def _request_cause(refused: Sequence[Finding], evidence: tuple[str, ...]) -> Cause:
    verdict = Counter(x.verdict for x in refused).most_common(1)[0][0]
    ours = all(x.delivery.verified for x in refused)
    documented = all(x.signing is not None and x.signing.documented for x in refused)
    action = ("webhooks must be sent with Content-Type: application/json, which the docs' "
              "listener needs to read the body (express.json())"
              if verdict.code == "no-json-body" else
              "a receiver built as the docs show refuses these deliveries")
    return Cause(
        "docs-listener-refuses", f"{len(refused)} deliveries"
        + (" are signed as the docs say" if documented else "")
        + (" and redcloud-check's verifier accepted them by their bytes" if ours else "")
        + f"{',' if documented or ours else ''} but the docs' own listener refuses every one: "
        f"{verdict.reason}.",
        f"{REPORT}: {action}.", REFERENCE, side="api", evidence=evidence)


def signature_cause(f: Forensics | None, url: str = "(no public URL)") -> Cause | None:
    """The cause of the failing deliveries (None when none fails)."""
    failing = [] if f is None else list(f.failing)
    if f is None or not failing:
        return None
    stricter = [x for x in failing if not x.delivery.verified and x.verdict.accepted]
    if stricter:
        d = stricter[0].delivery
        return Cause(
            "listener-stricter", f"redcloud-check's listener refused {len(stricter)} "
            f"deliveries that the docs' own listener accepts (ours: {d.reason}; "
            f"Content-Encoding: {d.headers.get('content-encoding', 'none')}): a limitation of "
            "redcloud-check, not a finding about the API.", "Report it to the redcloud-check "
            "maintainers with this bundle; these deliveries are not the API's fault.",
            REFERENCE, side="tool", evidence=(cite([x.delivery for x in stricter]),))
    refused = [x for x in failing if x.verdict.code in _REQUEST_CODES]
    if refused:
        return _request_cause(refused, (cite([x.delivery for x in refused]),
                                        f"the docs' listener: {refused[0].verdict.reason}"))
    signing, _ = Counter(x.signing for x in failing).most_common(1)[0]
    group = [x for x in failing if x.signing == signing]
    evidence: tuple[str, ...] = (cite([x.delivery for x in group]) + (
        f": X-RedCloud-Signature = {signing.describe()}" if signing else
        ": X-RedCloud-Signature reproduced by no combination tried"),
        f"the docs' listener: {group[0].verdict.reason}")
    if len(group) < len(failing):
        evidence += (f"{len(failing) - len(group)} other failing deliveries were made "
                     "otherwise (see the webhook evidence)",)
    if signing is None:
        return _unexplained(group, f, url, evidence)
    who = f"All {len(group)}" if len(group) == f.at_path else \
        f"{len(group)} of the {f.at_path}"
    return _signing_cause(signing, who, evidence,
                          ours_accepted=all(x.delivery.verified for x in group))
