"""Settings: from pytest options, environment variables and a .env file, in that order.

Every setting has one environment variable (names from the docs where the docs name them)
and one pytest option. With no RC_BASE_URL the suite runs against the embedded simulator
with the docs' canonical test values. Validation names the setting that is wrong.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from redcloud_check.core.e164 import is_e164
from redcloud_check.core.errors import ConfigError
from redcloud_check.core.setting_values import (
    api_host,
    choice,
    parse_bool,
    parse_float,
    parse_url,
    read_dotenv,
    split_names,
)
from redcloud_check.core.urls import is_loopback_host
from redcloud_check.core.waivers import find_waivers_file

# The docs' canonical test values (1-quickstart.txt, Section 3; 2-examples.txt).
CANONICAL = {
    "client_id": "rc_test_client_123",
    "client_secret": "rc_secret_abc123",
    "number_id": "num_abc123",
    "to": "+15551234567",
    "webhook_secret": "rc_secret_abc123",
}


@dataclass(frozen=True, slots=True)
class Option:
    """A setting: its environment variable; its Settings field and flag are named after it."""
    env: str
    help: str
    secret: bool = False

    @property
    def attr(self) -> str:
        return self.env.removeprefix("RC_").lower()

    @property
    def flag(self) -> str:
        return "--" + self.env.lower().replace("_", "-")


OPTIONS: tuple[Option, ...] = (
    Option("RC_BASE_URL", "API host; unset = run against the embedded simulator"),
    Option("RC_CLIENT_ID", "API client id from the Red Cloud portal"),
    Option("RC_CLIENT_SECRET", "API client secret", secret=True),
    Option("RC_NUMBER_ID", "numberId to send from (not the E.164 number)"),
    Option("RC_TO", "E.164 recipient for the test send"),
    Option("RC_WEBHOOK_SECRET", "secret that signs lifecycle webhooks", secret=True),
    Option("RC_ALLOW_SEND", "1 = real sends to a remote target are allowed"),
    Option("RC_REPORTS_DIR", "where report.html, junit.xml, escalation.json go"),
    Option("RC_WEBHOOK_TIMEOUT", "seconds to wait for the lifecycle events"),
    Option("RC_WEBHOOK_MODE", "override (PATCH the number) | preconfigured"),
    Option("RC_TUNNEL", "auto | none | ngrok: how the target reaches the listener"),
    Option("RC_PUBLIC_URL", "a public URL that already reaches the listener"),
    Option("RC_TIMEOUT", "HTTP connect/read timeout, seconds"),
    Option("RC_LISTEN_HOST", "listener bind address (default 127.0.0.1)"),
    Option("RC_LISTEN_PORT", "listener port (0 = any; preconfigured: 8787)"),
    Option("RC_LISTEN_PATH", "listener path (default /webhooks/red-cloud)"),
    Option("RC_NGROK_PATH", "path of the ngrok agent binary (never downloaded)"),
    Option("RC_SIM_FAULTS", "embedded simulator only: comma-separated faults"),
    Option("RC_SIM_VARIANTS", "embedded simulator only: comma-separated conformant variants"),
    Option("RC_WAIVERS", "TOML file of [[waiver]] tables: accepted deviations with an expiry "
           "(default ./redcloud-waivers.toml when present)"),
    Option("RC_KEEP_RUNS", "how many runs' evidence folders to keep (default 20)"),
    Option("RC_RETRY_BUDGET", "seconds of Retry-After waits a run may spend on rate limits "
           "(429, or 503 with Retry-After; default 30)"),
    Option("RC_DELIVERY_SEMANTICS", "1 = refuse one webhook delivery (HTTP 503) and report "
           "whether, how soon and how the API retries it (info, never a failure)"),
    Option("RC_SHARE_RECIPIENTS", "1 = keep recipients' full phone numbers in the reports "
           "(default: masked, +1******0001)"),
    Option("RC_TRACEPARENT", "0 = send no W3C traceparent (default: one trace per run, a "
           "span per request)"),
    Option("RC_CONCURRENCY", "independent requests in flight at once (default 4; 1 = one at "
           "a time)"),
)
OPTIONS_BY_ATTR = {o.attr: o for o in OPTIONS}
NGROK_AUTHTOKEN = "NGROK_AUTHTOKEN"  # read as pyngrok reads it: an ngrok setting, not an RC_ one
# Every environment variable that holds a secret: the options marked secret, and ngrok's token.
SECRET_ENV: tuple[str, ...] = (*(o.env for o in OPTIONS if o.secret), NGROK_AUTHTOKEN)


def env_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    """The secret values set in the environment, for redacting what is written before the
    settings could be loaded (a configuration error)."""
    env = os.environ if environ is None else environ
    return [value for name in SECRET_ENV if (value := env.get(name))]
_DOCTOR_NAMES = "`redcloud-check doctor` names the numberId to use"
KEEP_RUNS_DEFAULT = 20  # run folders kept under <reports>/runs: a few weeks of daily runs
RETRY_BUDGET_DEFAULT = 30.0  # seconds of the API's Retry-After a run honours (DESIGN.md)
CONCURRENCY_DEFAULT = 4  # independent requests in flight (DESIGN.md); 1 = one at a time
CONCURRENCY_MAX = 32  # a run makes about 60 requests: more places than that buy nothing


@dataclass(frozen=True, slots=True)
class Settings:
    base_url: str | None
    client_id: str
    client_secret: str
    number_id: str
    to: str
    webhook_secret: str
    allow_send: bool = False
    reports_dir: Path = Path("reports")
    webhook_timeout: float = 30.0
    webhook_mode: str = "override"
    tunnel: str = "auto"
    public_url: str | None = None
    timeout: float = 10.0
    listen_host: str = "127.0.0.1"
    listen_port: int = 0
    listen_path: str = "/webhooks/red-cloud"
    ngrok_path: str | None = None
    sim_faults: tuple[str, ...] = ()
    sim_variants: tuple[str, ...] = ()
    waivers: Path | None = None  # the waiver file, when there is one (core.waivers)
    keep_runs: int = KEEP_RUNS_DEFAULT
    retry_budget: float = RETRY_BUDGET_DEFAULT
    delivery_semantics: bool = False  # refuse one delivery, observe the retries
    share_recipients: bool = False  # recipients' numbers in full in the reports
    traceparent: bool = True  # a W3C traceparent on every request
    concurrency: int = CONCURRENCY_DEFAULT
    ngrok_authtoken: str | None = field(default=None, repr=False)

    @property
    def embedded(self) -> bool:
        """True when the run targets the embedded simulator."""
        return self.base_url is None

    @property
    def target_is_loopback(self) -> bool:
        return self.base_url is None or is_loopback_host(urlsplit(self.base_url).hostname or "")

    @property
    def sends_allowed(self) -> bool:
        return self.embedded or self.allow_send

    def secret_settings(self) -> list[tuple[str, str]]:
        """(setting name, value) of every configured secret, for warnings that name it."""
        named = [(o.env, str(getattr(self, o.attr))) for o in OPTIONS if o.secret]
        return [(env, v) for env, v in (*named, (NGROK_AUTHTOKEN, self.ngrok_authtoken or ""))
                if v]

    def secrets(self) -> list[str]:
        """Every configured secret value (for redaction): the options marked secret, and
        the ngrok authtoken."""
        values = [str(getattr(self, o.attr)) for o in OPTIONS if o.secret]
        return [v for v in (*values, self.ngrok_authtoken or "") if v]


SOURCES = ("option", "environment", ".env")  # where a setting was given, first wins


def given_from(attr: str, options: Mapping[str, str | None], env: Mapping[str, str],
               file_values: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(the setting as given, its source in SOURCES): option beats environment beats .env;
    empty means unset: (None, None)."""
    opt = OPTIONS_BY_ATTR[attr]
    given = (options.get(attr), env.get(opt.env), file_values.get(opt.env))
    return next(((v, source) for v, source in zip(given, SOURCES, strict=True) if v), (None, None))


def given_value(attr: str, options: Mapping[str, str | None] | None = None,
                environ: Mapping[str, str] | None = None,
                dotenv: Path | None = None) -> str | None:
    """One setting as given, unvalidated, from the same sources as `load_settings`; for
    what a run stopped by a configuration error still writes (where, and about which
    target). A .env file that cannot be read counts as absent here."""
    try:
        file_values = read_dotenv(dotenv) if dotenv is not None else {}
    except (ConfigError, OSError, UnicodeDecodeError):
        file_values = {}
    env = os.environ if environ is None else environ
    return given_from(attr, options or {}, env, file_values)[0]


def _simulator_names(env: str, value: str | None, base_url: str | None) -> tuple[str, ...]:
    """Comma-separated simulator fault or variant names, for the embedded simulator only
    (whether the simulator has them is its own check: simulator.names.check_names)."""
    names = split_names(value)
    if names and base_url is not None:
        raise ConfigError(env, "applies only to the embedded simulator",
                          f"unset RC_BASE_URL or {env}")
    return names


def load_settings(
    options: Mapping[str, str | None] | None = None,
    environ: Mapping[str, str] | None = None,
    dotenv: Path | None = None,
    *,
    judge_number_id: bool = False,
) -> Settings:
    """Build validated settings. `options` maps attr -> value given on the command line.
    `judge_number_id` (doctor): RC_NUMBER_ID may be unset ("") or an E.164; the caller
    judges it against the client's numbers."""
    options = options or {}
    env = dict(os.environ if environ is None else environ)
    file_values = read_dotenv(dotenv) if dotenv is not None else {}

    def raw(attr: str) -> str | None:
        return given_from(attr, options, env, file_values)[0]

    base_url = raw("base_url")
    if base_url is not None:
        base_url = api_host("RC_BASE_URL", parse_url("RC_BASE_URL", base_url))
        required = ("client_id", "client_secret") + (() if judge_number_id else ("number_id",))
        missing = [o.env for o in OPTIONS if o.attr in required and raw(o.attr) is None]
        if missing:
            raise ConfigError(missing[0], "is required when RC_BASE_URL is set",
                              f"also missing: {', '.join(missing[1:])}" if missing[1:] else
                              _DOCTOR_NAMES if missing == ["RC_NUMBER_ID"] else "")

    def value(attr: str) -> str:
        got = raw(attr)
        if got is None:
            return CANONICAL[attr] if base_url is None else ""
        return got

    allow_send = parse_bool("RC_ALLOW_SEND", raw("allow_send") or "")
    number_id = value("number_id")
    if is_e164(number_id) and not judge_number_id:
        raise ConfigError("RC_NUMBER_ID", f"{number_id!r} is a phone number, not a numberId",
                          _DOCTOR_NAMES)
    to = value("to")
    sends = base_url is None or allow_send
    if sends and not to:
        raise ConfigError("RC_TO", "is required when RC_ALLOW_SEND=1")
    if to and not is_e164(to):
        raise ConfigError("RC_TO", f"{to!r} is not an E.164 number", "e.g. +15551234567")
    webhook_secret = value("webhook_secret")
    if sends and not webhook_secret:
        raise ConfigError("RC_WEBHOOK_SECRET", "is required when RC_ALLOW_SEND=1",
                          "the lifecycle stage verifies webhook signatures with it")

    def number(attr: str, default: float) -> float:
        got = raw(attr)
        return default if got is None else parse_float(OPTIONS_BY_ATTR[attr].env, got)

    mode = choice("RC_WEBHOOK_MODE", raw("webhook_mode") or "override",
                   ("override", "preconfigured"))
    tunnel = choice("RC_TUNNEL", raw("tunnel") or "auto", ("auto", "none", "ngrok"))
    public_url = raw("public_url")
    if public_url is not None:
        public_url = parse_url("RC_PUBLIC_URL", public_url)
    port_raw = raw("listen_port")
    default_port = 8787 if mode == "preconfigured" else 0
    try:
        listen_port = default_port if port_raw is None else int(port_raw)
    except ValueError:
        raise ConfigError("RC_LISTEN_PORT", f"not a port number: {port_raw!r}") from None
    if not 0 <= listen_port <= 65535:
        raise ConfigError("RC_LISTEN_PORT", f"out of range: {listen_port}")
    listen_path = raw("listen_path") or "/webhooks/red-cloud"
    if not listen_path.startswith("/"):
        raise ConfigError("RC_LISTEN_PATH", f"must start with '/': {listen_path!r}")
    keep_raw = raw("keep_runs")
    keep_runs = KEEP_RUNS_DEFAULT
    if keep_raw is not None:
        if not keep_raw.strip().isdigit() or int(keep_raw) < 1:
            raise ConfigError("RC_KEEP_RUNS", f"expected a whole number of runs >= 1, got "
                              f"{keep_raw!r}")
        keep_runs = int(keep_raw)
    faults = _simulator_names("RC_SIM_FAULTS", raw("sim_faults"), base_url)
    variants = _simulator_names("RC_SIM_VARIANTS", raw("sim_variants"), base_url)
    return Settings(
        base_url=base_url,
        client_id=value("client_id"),
        client_secret=value("client_secret"),
        number_id=number_id,
        to=to,
        webhook_secret=webhook_secret,
        allow_send=allow_send,
        reports_dir=Path(raw("reports_dir") or "reports"),
        webhook_timeout=number("webhook_timeout", 10.0 if base_url is None else 60.0),
        webhook_mode=mode,
        tunnel=tunnel,
        public_url=public_url,
        timeout=number("timeout", 10.0),
        listen_host=raw("listen_host") or "127.0.0.1",
        listen_port=listen_port,
        listen_path=listen_path,
        ngrok_path=raw("ngrok_path"),
        sim_faults=faults,
        sim_variants=variants,
        waivers=find_waivers_file(raw("waivers")),
        keep_runs=keep_runs,
        retry_budget=_budget(raw("retry_budget")),
        delivery_semantics=parse_bool("RC_DELIVERY_SEMANTICS", raw("delivery_semantics") or ""),
        share_recipients=parse_bool("RC_SHARE_RECIPIENTS", raw("share_recipients") or ""),
        traceparent=parse_bool("RC_TRACEPARENT", raw("traceparent") or "1"),
        concurrency=_concurrency(raw("concurrency")),
        ngrok_authtoken=env.get(NGROK_AUTHTOKEN) or file_values.get(NGROK_AUTHTOKEN),
    )


def _budget(given: str | None) -> float:
    """RC_RETRY_BUDGET: seconds, 0 meaning never wait (a rate limit is then inconclusive)."""
    if given is None:
        return RETRY_BUDGET_DEFAULT
    if given.strip() in ("0", "0.0"):
        return 0.0
    return parse_float("RC_RETRY_BUDGET", given)


def _concurrency(given: str | None) -> int:
    """RC_CONCURRENCY: a whole number of requests in flight, 1 to CONCURRENCY_MAX."""
    if given is None:
        return CONCURRENCY_DEFAULT
    if not given.strip().isdigit() or not 1 <= int(given) <= CONCURRENCY_MAX:
        raise ConfigError("RC_CONCURRENCY", f"expected a whole number from 1 to "
                          f"{CONCURRENCY_MAX}, got {given!r}", "1 sends one request at a time")
    return int(given)


def embedded_webhook_secret(settings: Settings, simulator_secret: str | None) -> Settings:
    """With the embedded simulator, RC_WEBHOOK_SECRET defaults to the simulator's signing
    secret for the run's client: the docs' example value, or the distinct one a fault gives
    the client. A secret that was given is kept."""
    if settings.webhook_secret != CANONICAL["webhook_secret"] or not simulator_secret:
        return settings
    return replace(settings, webhook_secret=simulator_secret)
