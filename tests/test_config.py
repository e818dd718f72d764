"""Settings: precedence, defaults for the embedded simulator, and errors naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from redcloud_check.core.config import (
    CANONICAL,
    OPTIONS,
    OPTIONS_BY_ATTR,
    SECRET_ENV,
    Settings,
    env_secrets,
    load_settings,
)
from redcloud_check.core.errors import ConfigError

REMOTE = {
    "RC_BASE_URL": "https://api.example.test",
    "RC_CLIENT_ID": "client_x",
    "RC_CLIENT_SECRET": "s3cret-value",
    "RC_NUMBER_ID": "num_x",
}


def test_no_base_url_targets_the_simulator_with_the_docs_values() -> None:
    settings = load_settings(environ={})
    assert settings.embedded
    assert settings.client_id == CANONICAL["client_id"]
    assert settings.number_id == "num_abc123"
    assert settings.sends_allowed


def test_remote_target_needs_no_send_settings_until_sends_are_allowed() -> None:
    settings = load_settings(environ=REMOTE)
    assert not settings.embedded
    assert not settings.sends_allowed
    assert settings.base_url == "https://api.example.test"


@pytest.mark.parametrize("missing", ["RC_CLIENT_ID", "RC_CLIENT_SECRET", "RC_NUMBER_ID"])
def test_remote_target_names_the_missing_credential(missing: str) -> None:
    env = {k: v for k, v in REMOTE.items() if k != missing}
    with pytest.raises(ConfigError) as info:
        load_settings(environ=env)
    assert info.value.setting == missing


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"RC_BASE_URL": "api.example.test"}, "RC_BASE_URL"),
        ({"RC_BASE_URL": "ftp://api.example.test"}, "RC_BASE_URL"),
        ({"RC_BASE_URL": "https://api.example.test:https"}, "RC_BASE_URL"),
        ({"RC_BASE_URL": "https://api.example.test:99999"}, "RC_BASE_URL"),
        ({"RC_TO": "+1555123456\n"}, "RC_TO"),
        ({"RC_TO": "5551234567"}, "RC_TO"),
        ({"RC_NUMBER_ID": "+15551234567"}, "RC_NUMBER_ID"),
        ({"RC_ALLOW_SEND": "maybe"}, "RC_ALLOW_SEND"),
        ({"RC_DELIVERY_SEMANTICS": "retries"}, "RC_DELIVERY_SEMANTICS"),
        ({"RC_TIMEOUT": "-1"}, "RC_TIMEOUT"),
        ({"RC_TIMEOUT": "soon"}, "RC_TIMEOUT"),
        ({"RC_WEBHOOK_MODE": "push"}, "RC_WEBHOOK_MODE"),
        ({"RC_TUNNEL": "cloudflared"}, "RC_TUNNEL"),
        ({"RC_LISTEN_PORT": "99999"}, "RC_LISTEN_PORT"),
        ({"RC_LISTEN_PATH": "hooks"}, "RC_LISTEN_PATH"),
        ({"RC_PUBLIC_URL": "not a url"}, "RC_PUBLIC_URL"),
        ({"RC_PUBLIC_URL": "https://hooks.example.test:0x1f"}, "RC_PUBLIC_URL"),
    ],
)
def test_malformed_settings_name_the_setting(env: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ=env)
    assert info.value.setting == setting
    assert setting in str(info.value)


def test_allowing_sends_to_a_remote_target_requires_recipient_and_webhook_secret() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={**REMOTE, "RC_ALLOW_SEND": "1"})
    assert info.value.setting == "RC_TO"
    with pytest.raises(ConfigError) as info:
        load_settings(environ={**REMOTE, "RC_ALLOW_SEND": "1", "RC_TO": "+15550001111"})
    assert info.value.setting == "RC_WEBHOOK_SECRET"


def test_error_messages_never_echo_the_secret() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={**REMOTE, "RC_BASE_URL": "nonsense"})
    assert REMOTE["RC_CLIENT_SECRET"] not in str(info.value)


def test_option_beats_environment_beats_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text('export RC_TIMEOUT="7"\nRC_WEBHOOK_TIMEOUT=9 \n# comment\n')
    settings = load_settings({"timeout": "3"}, environ={"RC_TIMEOUT": "5"}, dotenv=dotenv)
    assert settings.timeout == 3.0
    assert settings.webhook_timeout == 9.0
    assert load_settings(environ={"RC_TIMEOUT": "5"}, dotenv=dotenv).timeout == 5.0
    assert load_settings(environ={}, dotenv=dotenv).timeout == 7.0


def test_dotenv_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("RC_TIMEOUT=1\nthis is not an assignment\n")
    with pytest.raises(ConfigError) as info:
        load_settings(environ={}, dotenv=dotenv)
    assert info.value.setting.endswith(".env:2")


def test_dotenv_is_read_as_python_dotenv_reads_it_without_expanding(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "RC_BASE_URL=https://api.example.com  # staging\n"
        "RC_CLIENT_ID='client with spaces'\n"
        "RC_CLIENT_SECRET=pa$$w0rd${HOME}\n"  # a secret holding "$" is kept as written
        'RC_WEBHOOK_SECRET="line\\nbreak"\n'
        "RC_NUMBER_ID=num_abc123\n"
        "RC_TO\n")  # a key with no value is left out, as python-dotenv does
    settings = load_settings(environ={}, dotenv=dotenv)
    assert settings.base_url == "https://api.example.com"
    assert settings.client_id == "client with spaces"
    assert settings.client_secret == "pa$$w0rd${HOME}"
    assert settings.webhook_secret == "line\nbreak"
    assert settings.to == ""


def test_simulator_faults_are_refused_for_a_remote_target() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={**REMOTE, "RC_SIM_FAULTS": "number-missing"})
    assert info.value.setting == "RC_SIM_FAULTS"


@pytest.mark.parametrize("env", ["RC_SIM_FAULTS", "RC_SIM_VARIANTS"])
def test_simulator_names_are_refused_for_a_remote_target(env: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={**REMOTE, env: "many-numbers"})
    assert info.value.setting == env


@pytest.mark.parametrize(("env", "catalog"), [("RC_SIM_FAULTS", "valid faults"),
                                              ("RC_SIM_VARIANTS", "valid variants")])
def test_an_unknown_simulator_name_is_a_config_error_naming_the_valid_ones(
        env: str, catalog: str) -> None:
    from redcloud_check.simulator.names import check_names

    settings = load_settings(environ={env: "bogus"})  # core knows no catalog: the simulator's
    with pytest.raises(ConfigError) as info:
        check_names(settings)
    assert info.value.setting == env and catalog in str(info.value)


def test_simulator_variants_are_read_as_a_list() -> None:
    settings = load_settings(environ={"RC_SIM_VARIANTS": " uuid-ids, many-numbers ,"})
    assert settings.sim_variants == ("uuid-ids", "many-numbers")


def test_every_option_has_a_distinct_env_var_and_flag() -> None:
    envs = [o.env for o in OPTIONS]
    assert len(set(envs)) == len(envs)
    assert all(o.env.startswith("RC_") and o.flag.startswith("--rc-") for o in OPTIONS)


def test_every_option_fills_the_settings_field_named_after_it() -> None:
    from dataclasses import fields

    assert {o.attr for o in OPTIONS} <= {f.name for f in fields(Settings)}
    assert OPTIONS_BY_ATTR["base_url"].flag == "--rc-base-url"


def test_secrets_lists_configured_secrets_only() -> None:
    settings = load_settings(environ={**REMOTE, "NGROK_AUTHTOKEN": "ngrok-tok"})
    assert set(settings.secrets()) >= {"s3cret-value", "ngrok-tok"}
    assert "client_x" not in settings.secrets()


def test_the_secret_environment_variables_are_the_options_marked_secret() -> None:
    assert SECRET_ENV == ("RC_CLIENT_SECRET", "RC_WEBHOOK_SECRET", "NGROK_AUTHTOKEN")
    environ = {"RC_CLIENT_SECRET": "cs", "RC_CLIENT_ID": "not-secret", "NGROK_AUTHTOKEN": "nt",
               "RC_WEBHOOK_SECRET": ""}
    assert env_secrets(environ) == ["cs", "nt"]
