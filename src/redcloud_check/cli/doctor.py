"""`redcloud-check doctor`: are my credentials right, and which numberId do I use?

First contact in at most three requests (token, whoami, numbers); nothing is sent or changed.
`probe.doctor` asks; this module reads the settings (options, environment, ./.env, as every
command does, but RC_NUMBER_ID is judged against the client's numbers instead of refused),
writes `--write-env FILE` (`core.env_file`), decides the next command and prints the report
(`cli.doctor_output`: text, or one JSON object with --json). Only argparse is imported at
module level: `redcloud-check --help` builds every subcommand's parser.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redcloud_check.core.config import Settings
    from redcloud_check.core.env_file import EnvFileChange
    from redcloud_check.probe.doctor import DoctorResult

DESCRIPTION = (
    "First contact: checks the credentials and tells which numberId to use, in at most 3 "
    "requests (token, whoami, numbers); nothing is sent or changed. Prints the client (id, "
    "name, status), every assigned number (numberId, E.164, status, SMS/MMS, delivery "
    "override), what RC_NUMBER_ID names (or the numberId to use instead) and the next "
    "command.")
SETTINGS_HELP = """\
Settings: RC_BASE_URL, RC_CLIENT_ID, RC_CLIENT_SECRET, RC_NUMBER_ID (and the other RC_*
variables) from the options above, the environment or ./.env, in that order. There is no
option for the secret: a command line is visible to every user of the machine. No
RC_BASE_URL: the embedded simulator, started for the check. See docs/doctor.md."""
DOTENV = Path(".env")  # the file every command reads settings from


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number: {text!r}")
    return value


def configure_parser(parser: argparse.ArgumentParser) -> None:
    from redcloud_check.core.exit_codes import help_text

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = DESCRIPTION
    parser.epilog = help_text("doctor") + "\n\n" + SETTINGS_HELP
    parser.add_argument("--base-url", metavar="URL", help="the API host (overrides RC_BASE_URL)")
    parser.add_argument("--client-id", metavar="ID", help="overrides RC_CLIENT_ID")
    parser.add_argument("--number-id", metavar="ID", help="overrides RC_NUMBER_ID")
    parser.add_argument("--timeout", type=_seconds, metavar="SECONDS",
                        help="HTTP connect/read timeout (overrides RC_TIMEOUT; default 10)")
    parser.add_argument("--write-env", type=Path, metavar="FILE",
                        help="write what doctor verified (RC_NUMBER_ID; RC_BASE_URL and "
                             "RC_CLIENT_ID when given) into this .env file, keeping its other "
                             "lines; secrets get an empty NAME= line when absent, never a value")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object (redacted) instead of the report")


@dataclass(frozen=True, slots=True)
class Step:
    """A command to run next, and why."""

    command: str
    why: str


@dataclass(frozen=True, slots=True)
class Written:
    """What --write-env did: the change, what it left out and why, or why it failed."""

    path: Path
    change: EnvFileChange | None = None
    left_out: tuple[str, ...] = ()
    error: str | None = None


def _options(args: argparse.Namespace) -> dict[str, str | None]:
    return {"base_url": args.base_url, "client_id": args.client_id,
            "number_id": args.number_id,
            "timeout": None if args.timeout is None else repr(args.timeout)}


@dataclass(frozen=True, slots=True)
class Given:
    """A setting as given: where from (option, environment, .env, default: the simulator's
    canonical value, or unset), and its value unless it is a secret."""

    name: str
    value: str | None
    source: str
    secret: bool


def given_settings(options: dict[str, str | None],
                   file_values: dict[str, str]) -> dict[str, Given]:
    """The settings doctor shows, as given (unvalidated: a configuration error shows them
    too); a URL without its userinfo."""
    from redcloud_check.core.config import CANONICAL, OPTIONS_BY_ATTR, given_from
    from redcloud_check.core.urls import without_userinfo

    embedded = given_from("base_url", options, os.environ, file_values)[0] is None
    found = {}
    for attr in ("base_url", "client_id", "client_secret", "number_id"):
        option = OPTIONS_BY_ATTR[attr]
        value, source = given_from(attr, options, os.environ, file_values)
        if value is None and embedded and attr in CANONICAL:
            value, source = CANONICAL[attr], "default"
        if attr == "base_url" and value is not None:
            try:
                value = without_userinfo(value)
            except ValueError:  # not a URL at all: the configuration error says so
                value = "(not a URL)"
        found[option.env] = Given(option.env, None if option.secret else value,
                                  source or "unset", option.secret)
    return found


def _number_to_write(result: DoctorResult) -> str | None:
    """The numberId doctor may write: the usable one RC_NUMBER_ID names, the numberId of
    the E.164 it holds (when usable), or the first usable one when it is unset. Never
    another number in place of one the user chose."""
    choice = result.number
    if choice is None:
        return None
    if choice.verdict == "usable":
        return choice.number_id
    if choice.verdict == "e164" and choice.suggested == choice.number_id:
        return choice.suggested
    return choice.suggested if choice.verdict == "unset" else None


def write_env(path: Path, settings: Settings, result: DoctorResult,
              given: dict[str, Given]) -> Written:
    """--write-env: what doctor verified, and an empty line for each secret the file lacks
    (remote targets only: the simulator's are known)."""
    from redcloud_check.core.config import OPTIONS
    from redcloud_check.core.env_file import update_env_file
    from redcloud_check.core.errors import ConfigError
    from redcloud_check.core.urls import without_userinfo

    values, left_out = {}, []
    if settings.base_url is not None and result.api_answered:
        if without_userinfo(settings.base_url) == settings.base_url:
            values["RC_BASE_URL"] = settings.base_url
        else:
            left_out.append("RC_BASE_URL: it carries credentials (user:password@), and doctor "
                            "never writes a secret")
    if given["RC_CLIENT_ID"].source not in ("default", "unset") and result.token_issued:
        values["RC_CLIENT_ID"] = settings.client_id
    number = _number_to_write(result)
    if number is not None:
        values["RC_NUMBER_ID"] = number
    elif result.number is not None and result.number.given:
        left_out.append(f"RC_NUMBER_ID: {result.number.given} is not usable, and doctor does "
                        "not choose another number for you")
    placeholders = [o.env for o in OPTIONS if o.secret] if settings.base_url else []
    try:
        change = update_env_file(path, values, placeholders)
    except (ConfigError, OSError) as error:
        return Written(path, left_out=tuple(left_out), error=str(error))
    return Written(path, change, tuple(left_out))


def notes(written: Written | None) -> list[str]:
    """What the user should know about the file doctor wrote: a variable of the environment
    that beats it; a file the tool does not read by itself."""
    if written is None or written.change is None or not written.change.written:
        return []
    from redcloud_check.core.config import read_dotenv

    said = []
    if written.path.resolve() != DOTENV.resolve():
        said.append(f"redcloud-check reads ./.env, not {written.path}: load it yourself "
                    f"(set -a; . {written.path}; set +a)")
        return said
    values = read_dotenv(written.path)
    for name in written.change.written:
        if os.environ.get(name) and os.environ[name] != values.get(name):
            said.append(f"{name} is also set in the environment, which beats .env: "
                        f"unset {name} (or export the new value)")
    return said


def next_steps(settings: Settings, result: DoctorResult, given: dict[str, Given],
               written: Written | None, said: list[str]) -> list[Step]:
    """The command to run next: the suite once the settings are usable (or doctor fixed
    RC_NUMBER_ID in ./.env), else how to apply the numberId to use, else doctor again once
    the problem above is fixed."""
    fixed = (written is not None and written.change is not None and not said
             and "RC_NUMBER_ID" in written.change.written
             and written.path.resolve() == DOTENV.resolve()
             and result.problem is not None and result.problem.stage == "numbers")
    if result.status == "usable" or fixed:
        if settings.embedded:
            return [Step("redcloud-check run", "the suite against the embedded simulator; set "
                         "RC_BASE_URL, RC_CLIENT_ID and RC_CLIENT_SECRET to check your API")]
        if settings.allow_send:
            return [Step("redcloud-check run", "all five stages: sends two real messages "
                         "to RC_TO")]
        return [Step("redcloud-check run", "stages 1-3; nothing is sent"),
                Step("RC_ALLOW_SEND=1 RC_TO=<your phone, E.164> redcloud-check run",
                     "all five stages: sends two real messages to RC_TO (needs "
                     "RC_WEBHOOK_SECRET, and NGROK_AUTHTOKEN or RC_PUBLIC_URL for the webhooks)")]
    cause = result.problem.diagnosis.cause if result.problem is not None else None
    if cause is not None and cause.side == "api":
        return [Step("redcloud-check run", "the evidence for Red Cloud: reports/escalation.md "
                     "and escalation.json")]
    choice = result.number
    if choice is not None and choice.suggested and result.problem is not None:
        if given["RC_NUMBER_ID"].source == "environment":
            return [Step(f"export RC_NUMBER_ID={choice.suggested}", "the numberId to use"),
                    Step("redcloud-check doctor", "to confirm")]
        return [Step(f"redcloud-check doctor --number-id {choice.suggested} --write-env .env",
                     "checks it and writes it to ./.env")]
    return [Step("redcloud-check doctor", "once the problem above is fixed")]


def run(args: argparse.Namespace) -> int:
    from redcloud_check.cli.doctor_output import emit, exit_code
    from redcloud_check.core import run_log
    from redcloud_check.core.config import SECRET_ENV, env_secrets, load_settings, read_dotenv
    from redcloud_check.core.errors import ConfigError
    from redcloud_check.core.exit_codes import ExitCode
    from redcloud_check.probe.doctor import config_error, run_doctor

    options, file_values = _options(args), {}
    try:
        file_values = read_dotenv(DOTENV)
        if args.write_env is not None:
            read_dotenv(args.write_env)  # a file it could not update stops it before asking
        settings = load_settings(options, dotenv=DOTENV, judge_number_id=True)
        if settings.sim_faults or settings.sim_variants:
            from redcloud_check.simulator.names import check_names

            check_names(settings)
    except (ConfigError, OSError, UnicodeDecodeError) as error:
        secrets = env_secrets() + [v for k, v in file_values.items() if k in SECRET_ENV and v]
        what = getattr(error, "setting", None) or "the setting above"
        emit(args, config_error(str(error)), secrets,
             given=given_settings(options, file_values),
             steps=[Step("redcloud-check doctor", f"once {what} is fixed")])
        return int(ExitCode.CONFIG_ERROR)
    secrets = settings.secrets()
    run_log.use(None, lambda: secrets)
    result, secrets = run_doctor(settings)
    given = given_settings(options, file_values)
    written = None if args.write_env is None else write_env(args.write_env, settings, result,
                                                            given)
    said = notes(written)
    emit(args, result, secrets, given=given, written=written, notes=said,
         steps=next_steps(settings, result, given, written, said))
    return exit_code(result, written)
