"""core.env_file: settings written into a .env as a person would edit it; never a secret."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from redcloud_check.core.config import read_dotenv
from redcloud_check.core.env_file import HEADER, PLACEHOLDER_NOTE, update_env_file
from redcloud_check.core.errors import ConfigError

EXISTING = """\
# my Red Cloud settings
  export RC_NUMBER_ID=+15551234567 # the phone

OTHER=keep me
RC_CLIENT_SECRET='s3cret value'
RC_NUMBER_ID=num_old
"""


def test_the_last_binding_is_set_and_every_other_line_kept(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(EXISTING, encoding="utf-8")
    os.chmod(env, 0o640)
    change = update_env_file(env, {"RC_NUMBER_ID": "num_abc123", "RC_CLIENT_ID": "rc_1"},
                             ["RC_CLIENT_SECRET", "RC_WEBHOOK_SECRET"])
    assert (change.created, change.written, change.placeholders) == \
        (False, ("RC_NUMBER_ID", "RC_CLIENT_ID"), ("RC_WEBHOOK_SECRET",))
    assert env.read_text(encoding="utf-8") == EXISTING.replace(
        "RC_NUMBER_ID=num_old", "RC_NUMBER_ID=num_abc123") + (
        "RC_CLIENT_ID=rc_1\n\n" + PLACEHOLDER_NOTE + "RC_WEBHOOK_SECRET=\n")
    assert stat.S_IMODE(env.stat().st_mode) == 0o640  # an existing file keeps its mode
    assert read_dotenv(env)["RC_CLIENT_SECRET"] == "s3cret value"  # never touched


def test_a_single_binding_keeps_its_export_and_indentation(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("# c\n\n  export RC_NUMBER_ID=+15551234567 # the phone\nA=1", encoding="utf-8")
    update_env_file(env, {"RC_NUMBER_ID": "num_abc123"})
    assert env.read_text(encoding="utf-8") == "# c\n\n  export RC_NUMBER_ID=num_abc123\nA=1"


def test_a_new_file_is_private_with_empty_secret_lines(tmp_path: Path) -> None:
    env = tmp_path / "sub" / "red.env"
    change = update_env_file(env, {"RC_NUMBER_ID": "num_abc123"},
                             ["RC_CLIENT_SECRET", "RC_WEBHOOK_SECRET"])
    assert change.created
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert env.read_text(encoding="utf-8") == (
        HEADER + "RC_NUMBER_ID=num_abc123\n\n" + PLACEHOLDER_NOTE
        + "RC_CLIENT_SECRET=\nRC_WEBHOOK_SECRET=\n")
    assert read_dotenv(env) == {"RC_NUMBER_ID": "num_abc123", "RC_CLIENT_SECRET": "",
                                "RC_WEBHOOK_SECRET": ""}


def test_a_key_without_a_value_counts_as_present(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("RC_CLIENT_SECRET\nRC_NUMBER_ID\n", encoding="utf-8")
    change = update_env_file(env, {"RC_NUMBER_ID": "num_1"}, ["RC_CLIENT_SECRET"])
    assert change.placeholders == ()
    assert env.read_text(encoding="utf-8") == "RC_CLIENT_SECRET\nRC_NUMBER_ID=num_1\n"


@pytest.mark.parametrize("value", ["https://api.example.com", "a b", "it's", "back\\slash",
                                   "has # hash", "$HOME", 'say "hi"', "x\\'y"])
def test_values_read_back_as_written(tmp_path: Path, value: str) -> None:
    env = tmp_path / ".env"
    update_env_file(env, {"RC_CLIENT_ID": value})
    assert read_dotenv(env)["RC_CLIENT_ID"] == value


def test_nothing_to_change_writes_nothing(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("RC_NUMBER_ID=num_1\nRC_CLIENT_SECRET=x\n", encoding="utf-8")
    inode = env.stat().st_ino
    change = update_env_file(env, {"RC_NUMBER_ID": "num_1"}, ["RC_CLIENT_SECRET"])
    assert (change.changed, change.unchanged) == (False, ("RC_NUMBER_ID",))
    assert env.stat().st_ino == inode  # not replaced


def test_a_symlinked_file_is_written_through_its_link(tmp_path: Path) -> None:
    real = tmp_path / "real.env"
    real.write_text("A=1\n", encoding="utf-8")
    link = tmp_path / ".env"
    link.symlink_to(real)
    update_env_file(link, {"RC_NUMBER_ID": "num_1"})
    assert link.is_symlink()
    assert real.read_text(encoding="utf-8") == "A=1\nRC_NUMBER_ID=num_1\n"


def test_a_secrets_value_is_never_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="RC_CLIENT_SECRET"):
        update_env_file(tmp_path / ".env", {"RC_CLIENT_SECRET": "s3cret-value-123"})
    assert not (tmp_path / ".env").exists()


def test_a_line_dotenv_cannot_parse_stops_it_naming_file_and_line(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("A=1\nthis is not a binding\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\.env:2"):
        update_env_file(env, {"RC_NUMBER_ID": "num_1"})
    assert env.read_text(encoding="utf-8") == "A=1\nthis is not a binding\n"
