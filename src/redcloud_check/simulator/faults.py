"""The fault catalog: named deviations, each breaking exactly one documented rule.

A fault is switched on with ``Simulator(faults=[...])``, ``Simulator.set_faults`` or
``redcloud-check simulate --fault NAME``. ``stage`` is the suite stage expected to fail
against it (token | whoami | numbers | send | webhooks); the fault matrix test holds the
suite to that. This module is pure data so importing it stays cheap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

STAGES = ("token", "whoami", "numbers", "send", "webhooks")


@dataclass(frozen=True, slots=True)
class Fault:
    """One named deviation from the docs."""

    name: str
    stage: str
    description: str


_CATALOG: tuple[Fault, ...] = (
    # token
    Fault("token-basic-auth-rejected", "token",
          "HTTP Basic client credentials are refused with 401; body credentials still work"),
    Fault("token-body-credentials-rejected", "token",
          "client_id/client_secret in the body are refused with 401; HTTP Basic still works"),
    Fault("token-expires-in-string", "token", 'expires_in is the string "3600", not a number'),
    Fault("token-type-not-bearer", "token", 'token_type is "mac" instead of "bearer"'),
    Fault("token-error-core-wrapper", "token",
          "token errors use the CORE error wrapper instead of an OAuth-style body"),
    Fault("token-wrong-secret-accepted", "token", "a wrong client_secret still gets a token"),
    Fault("token-grant-type-unchecked", "token",
          "a missing or unsupported grant_type still gets a token"),
    Fault("token-unusable-on-core", "token", "CORE routes reject every issued token with 401"),
    Fault("token-content-type-text", "token", "the token response is served as text/plain"),
    Fault("token-secret-prefix-match", "token",
          "the secret is compared only as far as the stored one goes: extra characters pass"),
    Fault("token-secret-truncated-match", "token",
          "the given secret is compared only as far as it goes: a cut-short secret passes"),
    Fault("token-secret-case-insensitive", "token", "the secret is compared ignoring case"),
    Fault("token-empty-secret-accepted", "token",
          "an empty client_secret gets a token for the client_id it names"),
    Fault("token-basic-colon-split", "token",
          "HTTP Basic credentials are split at every colon: 'id:secret:x' passes as 'id:secret'"),
    Fault("token-client-id-ignored", "token",
          "the client is found by its secret alone: any client_id with the right secret passes"),
    Fault("token-credentials-either-order", "token",
          "client_id and client_secret are also accepted swapped"),
    # whoami
    Fault("whoami-missing-capabilities", "whoami", "whoami omits the capabilities field"),
    Fault("whoami-client-inactive", "whoami", 'whoami reports apiClientStatus "SUSPENDED"'),
    Fault("whoami-no-numbers", "whoami", "whoami reports no assigned numbers (all counts 0)"),
    Fault("whoami-wrong-client-id", "whoami", "whoami reports the apiClientId of another client"),
    Fault("core-auth-oauth-body", "whoami",
          "CORE 401 responses carry an OAuth-style body instead of the CORE wrapper"),
    Fault("core-errors-without-request-id", "whoami",
          "CORE error bodies lack requestId and responses lack X-Request-Id"),
    Fault("core-accepts-malformed-token", "whoami",
          "any Authorization value, even a malformed or unknown token, is accepted"),
    Fault("core-accepts-missing-token", "whoami",
          "a CORE request without Authorization is served as the first client"),
    Fault("core-token-prefix-checked", "whoami",
          "only the first 24 characters of a bearer token are checked (an unverified rest)"),
    Fault("core-scheme-ignored", "whoami",
          "the Authorization scheme is ignored: 'Basic <issued token>' is accepted"),
    Fault("core-accepts-client-secret", "whoami",
          "CORE routes accept the client secret as a bearer token, and HTTP Basic client "
          "credentials instead of a token"),
    Fault("request-ids-repeat", "whoami",
          "every response carries the same requestId (the first one the server made)"),
    # numbers
    Fault("numbers-sms-enabled-string", "numbers",
          'the numbers list gives smsEnabled as the string "true"'),
    Fault("number-not-active", "numbers", 'num_abc123 is listed with status "SUSPENDED"'),
    Fault("number-missing", "numbers", "num_abc123 is absent from the numbers list"),
    Fault("numbers-id-is-e164", "numbers",
          "the numbers list gives the E.164 phone number as numberId"),
    Fault("search-wrong-shape", "numbers", "number search returns a bare array of groups"),
    Fault("update-campaignregid-refused", "numbers",
          "PATCH refuses the documented request spelling campaignregId with 400"),
    Fault("update-unowned-allowed", "numbers",
          "PATCH of another client's or an unknown number answers 200"),
    Fault("update-drops-campaignregid", "numbers",
          "PATCH answers with the campaignregId written but stores null"),
    Fault("whoami-count-mismatch", "numbers",
          "whoami counts only the numbers that have a campaignRegId (1 of the client's 2)"),
    Fault("search-ignores-filter", "numbers",
          "number search applies only the npa filter and ignores every other one"),
    # send
    Fault("send-accepted-200", "send", "accepted sends answer 200 instead of 202"),
    Fault("send-status-sent", "send", 'accepted recipients have status "SENT", not "QUEUED"'),
    Fault("send-idempotency-optional", "send", "a send without Idempotency-Key is accepted"),
    Fault("send-e164-sendfrom-accepted", "send", "an E.164 sendFrom is accepted as the number"),
    Fault("send-unowned-number-accepted", "send",
          "a sendFrom the client does not own (or unknown) is accepted"),
    Fault("send-sms-media-accepted", "send", "an SMS send with media is accepted"),
    Fault("send-mms-without-media-accepted", "send", "an MMS send without media is accepted"),
    Fault("send-no-content-accepted", "send", "a send with neither text nor media is accepted"),
    Fault("send-empty-to-accepted", "send", "an empty to[] is accepted with empty results"),
    Fault("send-partial-all-or-nothing", "send",
          "one invalid recipient rejects the whole send with 400"),
    Fault("send-replay-new-message", "send",
          "same key and payload creates new messages instead of replaying"),
    Fault("send-conflict-ignored", "send",
          "same key with a changed payload is accepted instead of 409"),
    Fault("send-replay-current-status", "send",
          'a replay answers with each message\'s current status ("SENT"), not the stored '
          "response"),
    Fault("message-ids-repeat", "send",
          "a messageId is derived from the recipient, so every send to one number reuses it"),
    # webhooks
    Fault("webhook-wrong-secret", "webhooks", "webhooks are signed with a different secret"),
    Fault("webhook-signed-with-client-secret", "webhooks",
          "webhooks are signed with the client secret instead of the webhook signing secret "
          "(this fault gives the client a distinct one, which the embedded run then uses)"),
    Fault("webhook-hmac-body-only", "webhooks",
          "the signature is an HMAC of the raw body only, without the timestamp"),
    Fault("webhook-missing-signature", "webhooks", "webhooks carry no X-RedCloud-Signature"),
    Fault("webhook-sequence-regression", "webhooks",
          "message.sent carries a lower sequence than message.queued"),
    Fault("event-sequence-reused-final", "webhooks",
          "the final event reuses message.sent's sequence number"),
    Fault("event-wrong-client", "webhooks",
          "events name another API client (rc_other_client_789) as apiClientId"),
    Fault("event-wrong-message-in-data", "webhooks",
          "data.messageId names another message than the event's messageId"),
    Fault("event-wrong-recipient", "webhooks", "data.to is not the recipient of the send"),
    Fault("event-wrong-sender-number", "webhooks",
          "data.sendFrom is another number's E.164, not the sending number's"),
    Fault("event-direction-inbound", "webhooks",
          'events of an outbound message say direction "inbound"'),
    Fault("event-status-contradicts-type", "webhooks",
          'the final event\'s data.status is the opposite outcome ("failed" on '
          'message.delivery, "delivered" on message.failed)'),
    Fault("webhook-no-final-event", "webhooks", "the lifecycle stops after message.sent"),
    Fault("webhook-wrong-event-type", "webhooks",
          'the final event is "message.delivered" instead of "message.delivery"'),
    Fault("webhook-not-delivered", "webhooks", "no lifecycle event is ever sent"),
    Fault("webhook-malformed-event", "webhooks", "lifecycle events lack messageId"),
    Fault("patch-ignored", "webhooks",
          "PATCH answers 200 echoing the new values but stores nothing"),
)

FAULTS: dict[str, Fault] = {fault.name: fault for fault in _CATALOG}


def validate_names(names: Iterable[str], catalog: Mapping[str, object],
                   what: str) -> frozenset[str]:
    """`names` as a set; ValueError naming the valid ones for a name not in `catalog`
    (`what`: "fault" or "variant")."""
    chosen = frozenset(n.strip() for n in names if n.strip())
    unknown = sorted(chosen - catalog.keys())
    if unknown:
        raise ValueError(f"unknown simulator {what}(s): {', '.join(unknown)}; "
                         f"valid {what}s: {', '.join(sorted(catalog))}")
    return chosen


def validate_faults(names: Iterable[str]) -> frozenset[str]:
    """The given fault names as a set; ValueError naming the valid ones for an unknown name."""
    return validate_names(names, FAULTS, "fault")


def describe_faults() -> str:
    """The catalog as text, one fault per line, grouped by stage (for --list-faults)."""
    width = max(len(name) for name in FAULTS)
    return "\n".join(f"{f.stage:<9} {f.name:<{width}}  {f.description}"
                     for stage in STAGES for f in _CATALOG if f.stage == stage)
