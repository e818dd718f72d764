"""Redaction: every secret kind, in headers, JSON and form bodies, token responses, nested."""

from __future__ import annotations

import base64
import json
import logging
from urllib.parse import quote_plus

from redcloud_check.core.redaction import (
    MIN_SCRUB_LENGTH,
    RedactingFilter,
    mask,
    redact,
    redact_headers,
    secret_spans,
    short_secret_note,
)

from .leaks import assert_no_secret

CLIENT_SECRET = "cs_live_Zx9PqR7t"
TOKEN = "tok_8f2a61b0e4c94d"
REFRESH = "rfr_77aa1c"
WEBHOOK = "whsec_Q1w2E3r4"
NGROK = "2abcNGROKtoken_xyz"
BASIC = base64.b64encode(f"rc_test_client_123:{CLIENT_SECRET}".encode()).decode()
NAMED = {CLIENT_SECRET: "client_secret", TOKEN: "access_token", WEBHOOK: "webhook_secret",
         NGROK: "ngrok_authtoken", BASIC: "basic_credential"}
ALL = list(NAMED)


def test_every_known_secret_is_masked_as_a_substring_and_says_what_it_was() -> None:
    text = f"a{CLIENT_SECRET}b {TOKEN}. {WEBHOOK}/{NGROK}:{BASIC}"
    out = redact(text, NAMED)
    assert_no_secret(out, ALL)
    for what in ("client_secret", "access_token", "webhook_secret", "ngrok_authtoken",
                 "basic_credential"):
        assert mask(what) in out


def test_plain_iterable_of_secrets_masks_too() -> None:
    out = redact(f"x{TOKEN}y", [TOKEN])
    assert out == f"x{mask('secret')}y"


def test_sensitive_headers_keep_their_scheme() -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Proxy-Authorization": f"Basic {BASIC}",
               "Cookie": "session=abc; theme=dark", "Set-Cookie": "sid=xyz; Path=/; HttpOnly",
               "Content-Type": "application/json"}
    out = redact_headers(headers)
    assert out["Authorization"] == "Bearer ***"
    assert out["Proxy-Authorization"] == "Basic ***"
    assert out["Cookie"] == "session=***; theme=***"
    assert out["Set-Cookie"].startswith("sid=***")
    assert out["Content-Type"] == "application/json"
    assert_no_secret(json.dumps(out), [TOKEN, BASIC, "abc", "xyz"])


def test_header_names_are_case_insensitive_and_unknown_schemes_are_masked_whole() -> None:
    out = redact_headers({"authorization": "opaque-value", "AUTHORIZATION": "Token abc"})
    assert out == {"authorization": "***", "AUTHORIZATION": "Token ***"}


def test_token_response_body_fields_are_masked_even_when_unknown() -> None:
    body = json.dumps({"access_token": "never-seen-token", "refresh_token": REFRESH,
                       "token_type": "bearer", "expires_in": 3600}).encode()
    out = redact(body, [])
    assert isinstance(out, bytes)
    data = json.loads(out)
    assert data["access_token"] == mask("access_token")
    assert data["refresh_token"] == mask("refresh_token")
    assert data["token_type"] == "bearer" and data["expires_in"] == 3600


def test_json_field_names_are_case_insensitive_in_structures_and_text() -> None:
    nested = {"outer": [{"Client_Secret": "s1", "PASSWORD": "p1", "Token": "t1", "Secret": "w1",
                         "keep": "visible"}]}
    out = redact(nested, [])
    inner = out["outer"][0]
    assert inner["Client_Secret"] == mask("client_secret")
    assert inner["PASSWORD"] == mask("password")
    assert inner["Token"] == mask("token") and inner["Secret"] == mask("secret")
    assert inner["keep"] == "visible"
    text = redact('{"Access_Token" : "abc\\"def", "x": 1}', [])
    assert text == '{"Access_Token" : "[redacted:access_token]", "x": 1}'
    assert redact("{'token': 'zzz'}", []) == "{'token': '[redacted:token]'}"


def test_form_bodies_and_query_strings() -> None:
    form = ("grant_type=client_credentials&client_id=rc_test_client_123"
            f"&client_secret={CLIENT_SECRET}")
    out = redact(form, [])
    assert out.endswith("client_secret=[redacted:client_secret]")
    assert "grant_type=client_credentials" in out
    assert redact("https://h/cb?token=abc&x=1", []) == "https://h/cb?token=[redacted:token]&x=1"


def test_percent_and_json_escaped_variants_of_a_secret() -> None:
    odd = "p@ss w/rd\"&="
    form = "client_secret=" + "p%40ss+w%2Frd%22%26%3D"
    assert_no_secret(redact(form, [odd]), ["p%40ss+w%2Frd"])
    as_json = json.dumps({"note": f"secret is {odd}"})
    assert_no_secret(redact(as_json, [odd]), ["p@ss w/rd"])


def test_headers_written_as_text_are_masked() -> None:
    text = "-H 'Authorization: Bearer abc.def' {'authorization': 'Basic Zm9vOmJhcg=='} Cookie: a=b"
    out = redact(text, [])
    assert "abc.def" not in out and "Zm9vOmJhcg==" not in out and "a=b" not in out
    assert "Authorization: Bearer ***" in out and "'authorization': 'Basic ***" in out


def test_placeholders_and_shell_variables_are_left_alone() -> None:
    text = 'client_secret=$RC_CLIENT_SECRET "access_token": "[redacted:access_token]"'
    assert redact(text, []) == text
    curl = "-H 'Authorization: Bearer '\"${RC_ACCESS_TOKEN}\""
    assert redact(curl, []) == curl


def test_nested_structures_tuples_and_scalars() -> None:
    value = {"a": (TOKEN, 1, None, True), "b": [{"c": [f"x{WEBHOOK}"]}]}
    out = redact(value, NAMED)
    assert_no_secret(repr(out), ALL)
    assert out["a"][1:] == (1, None, True) and isinstance(out["a"], tuple)
    assert out["a"][0] == mask("access_token")


def test_keys_are_never_changed_whatever_the_secret() -> None:
    # A key is structure, not a value: "pytest" keeps its key even with the secret "test".
    doc = {"pytest": "9.0", "label": "b", "b": {"status": "test"}, TOKEN: 1}
    out = redact(doc, {"test": "client_secret", "b": "webhook_secret", TOKEN: "access_token"})
    assert list(out) == ["pytest", "label", "b", TOKEN] and list(out["b"]) == ["status"]
    assert out["pytest"] == "9.0"
    assert out["label"] == mask("webhook_secret")
    assert out["b"]["status"] == mask("client_secret")


def test_a_short_secret_is_masked_only_where_it_stands_as_a_whole_value() -> None:
    secrets = {"b": "client_secret"}
    text = ('numbers unreachable {"label": "b", "b": 1, "name": "bob"} '
            "grant_type=client_credentials&client_secret=b&x=abc https://u:b@h/p?q=b 'b'")
    out = redact(text, secrets)
    assert out.startswith('numbers unreachable {"label": "[redacted:client_secret]", "b": 1,')
    assert '"name": "bob"' in out and "x=abc" in out and "grant_type=client_credentials" in out
    assert "client_secret=[redacted:client_secret]" in out
    assert "https://u:[redacted:" in out and "q=[redacted:client_secret]" in out
    assert out.endswith("'[redacted:client_secret]'")
    assert redact("b", secrets) == mask("client_secret")  # a whole value
    assert redact(["a b c"], secrets) == ["a b c"]  # free text: not scrubbed


def test_a_long_secret_is_scrubbed_out_of_free_text_in_every_written_form() -> None:
    secret = 'p@ss w/rd"&=é_long'
    text = (f"error: {secret}! form=" + quote_plus(secret) + " json=" + json.dumps(secret))
    out = redact(text, [secret])
    assert secret not in out and quote_plus(secret) not in out
    assert json.dumps(secret)[1:-1] not in out
    assert out.count(mask("secret")) == 3


def test_our_own_words_are_kept_even_when_a_secret_equals_them() -> None:
    doc = {"verdict": "passed", "stages": [{"name": "webhooks", "verdict": "passed"}],
           "body": '{"status": "passed"}'}
    out = redact(doc, ["passed", "webhooks"], keep={"passed", "webhooks"})
    assert out["verdict"] == "passed" and out["stages"] == doc["stages"]
    assert out["body"] == '{"status": "[redacted:secret]"}'  # the API's value is masked


def test_secret_spans_find_values_not_keys_or_words() -> None:
    text = '{"b": "b", "x": "abc"} b=1&c=b'
    spans = secret_spans(text, {"b": "client_secret"})
    assert [text[s:e] for s, e, _ in spans] == ["b", "b"]
    assert [s for s, _, _ in spans] == [7, len(text) - 1]


def test_short_secret_note_names_the_setting() -> None:
    assert short_secret_note("RC_CLIENT_SECRET", "longenough") is None
    assert short_secret_note("RC_CLIENT_SECRET", "") is None
    note = short_secret_note("RC_CLIENT_SECRET", "b")
    assert note is not None and note.startswith(
        f"RC_CLIENT_SECRET is shorter than {MIN_SCRUB_LENGTH} characters")


def test_bytes_that_are_not_utf8_survive() -> None:
    raw = b"\xff\xfe" + TOKEN.encode() + b"\x00"
    out = redact(raw, [TOKEN])
    assert out.startswith(b"\xff\xfe") and out.endswith(b"\x00")
    assert_no_secret(out, [TOKEN])


def test_input_is_not_modified() -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    redact(headers, [TOKEN])
    assert headers["Authorization"] == f"Bearer {TOKEN}"


def test_logging_filter_redacts_messages_args_and_tokens_added_later() -> None:
    seen: list[str] = []
    secrets: list[str] = []
    flt = RedactingFilter(lambda: secrets)
    record = logging.LogRecord("rc", logging.INFO, __file__, 1, "token %s for %s",
                               (TOKEN, "client"), None)
    secrets.append(TOKEN)  # issued after the filter was installed
    assert flt.filter(record)
    seen.append(record.getMessage())
    assert seen == [f"token {mask('secret')} for client"]


def test_an_invalid_escape_in_a_quoted_value_is_decoded_as_python_does_even_under_w_error(
) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert redact("x = 'a\\:b\\x41'", {"a\\:bA": "client_secret"}) == \
            "x = '[redacted:client_secret]'"
