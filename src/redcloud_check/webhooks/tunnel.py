"""How the target reaches the webhook listener: directly, through RC_PUBLIC_URL, or ngrok.

    RC_PUBLIC_URL set        no tunnel; that URL is used (its path, else the listener's)
    RC_TUNNEL=none           no tunnel; the listener's own URL (loopback targets)
    RC_TUNNEL=auto           no tunnel for a loopback target, ngrok for a remote one; none
                             in preconfigured mode (your configuration routes to the fixed
                             port: a fresh ngrok URL could not be in it)
    RC_TUNNEL=ngrok          ngrok always

ngrok runs through pyngrok (>= 9) with the agent binary at RC_NGROK_PATH (or `ngrok` on
PATH): nothing is ever downloaded at run time. The authtoken comes from NGROK_AUTHTOKEN; its
value never appears in an error, a log or a file of ours, nor on the agent's command line
(which any local user can read with `ps`): it goes only into the agent's own config file
(`agent.authtoken`, mode 0600, in a private temporary directory), passed by path
(`--config`). close() disconnects the tunnel, kills the agent and removes that directory.

Public surface: `Exposure`, `Tunnel`, `tunnel_kind`, `preflight`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from redcloud_check.core.config import Settings
from redcloud_check.core.errors import ConfigError, TunnelError

if TYPE_CHECKING:
    from pyngrok.conf import PyngrokConfig


@dataclass(frozen=True, slots=True)
class Exposure:
    """Where the target should post: `url` (full, with path), and how it gets there."""

    url: str
    kind: str  # "direct" | "public-url" | "ngrok"
    detail: str


def tunnel_kind(settings: Settings) -> str:
    """'public-url', 'ngrok' or 'direct' for these settings."""
    if settings.public_url:
        return "public-url"
    if settings.tunnel == "ngrok" or (settings.tunnel == "auto"
                                      and settings.webhook_mode == "override"
                                      and not settings.target_is_loopback):
        return "ngrok"
    return "direct"


def preflight(settings: Settings) -> None:
    """Before anything is sent: a run that will need ngrok has its authtoken and agent.

    Raises ConfigError naming the setting, so a run that could never receive its webhooks
    stops at once instead of sending real messages first.
    """
    if not settings.sends_allowed or tunnel_kind(settings) != "ngrok":
        return
    alternatives = "or set RC_PUBLIC_URL to a URL that reaches the listener"
    if not settings.ngrok_authtoken:
        raise ConfigError("NGROK_AUTHTOKEN", "is required to expose the webhook listener "
                          "through ngrok", alternatives)
    try:
        Tunnel(settings)._agent_path()
    except TunnelError as error:
        setting = "RC_NGROK_PATH"
        raise ConfigError(setting, str(error).removeprefix(f"{setting}: "),
                          alternatives) from None


def _with_path(base: str, path: str) -> str:
    return base if urlsplit(base).path not in ("", "/") else base.rstrip("/") + path


def _private_config(directory: str, token: str) -> str:
    """Write the agent's config holding `token` at `directory`/ngrok.yml, mode 0600."""
    from pyngrok import installer

    path = os.path.join(directory, "ngrok.yml")
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # private before filled
    installer.install_default_config(path, {"agent": {"authtoken": token}})
    return path


class Tunnel:
    """Opens the exposure for a listener on `local_port`; close() is idempotent."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.kind = tunnel_kind(settings)
        self._public_url: str | None = None
        self._config: PyngrokConfig | None = None  # while ngrok runs
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        self.agent_pid: int | None = None

    def open(self, local_url: str) -> Exposure:
        """`local_url` is the listener's own URL (scheme, loopback host, port, path)."""
        parts = urlsplit(local_url)
        if self.kind == "public-url":
            assert self.settings.public_url is not None
            url = _with_path(self.settings.public_url, parts.path)
            return Exposure(url, "public-url", f"RC_PUBLIC_URL (forwarded by you to {local_url})")
        if self.kind == "direct":
            why = ("RC_TUNNEL=none" if self.settings.tunnel == "none" else
                   "the target is on loopback" if self.settings.target_is_loopback else
                   "preconfigured mode: your webhook configuration routes to this listener")
            return Exposure(local_url, "direct", f"no tunnel: {why}")
        base = self._open_ngrok(f"{parts.scheme}://{parts.netloc}")
        return Exposure(_with_path(base, parts.path), "ngrok",
                        f"ngrok tunnel to {parts.netloc} (agent pid {self.agent_pid})")

    def _agent_path(self) -> str:
        path = self.settings.ngrok_path or shutil.which("ngrok")
        if not path:
            raise TunnelError("RC_NGROK_PATH is not set and no `ngrok` is on PATH: install the "
                              "ngrok agent and set RC_NGROK_PATH to it (it is never downloaded "
                              "at run time), or set RC_PUBLIC_URL / RC_TUNNEL=none")
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise TunnelError(f"RC_NGROK_PATH: {path} is not an executable file (the ngrok "
                              "agent is never downloaded at run time)")
        return path

    def _open_ngrok(self, addr: str) -> str:
        token = self.settings.ngrok_authtoken
        if not token:
            raise TunnelError("NGROK_AUTHTOKEN is not set: ngrok needs an authtoken to open "
                              "the tunnel for the webhook listener (or set RC_PUBLIC_URL, or "
                              "RC_TUNNEL=none for a loopback target)")
        agent = self._agent_path()
        from pyngrok import conf, ngrok
        from pyngrok.exception import PyngrokError

        self._tmpdir = tempfile.TemporaryDirectory(prefix="redcloud-ngrok-")
        config = conf.PyngrokConfig(ngrok_path=agent, startup_timeout=15,
                                    config_path=_private_config(self._tmpdir.name, token))
        # PyngrokConfig falls back to $NGROK_AUTHTOKEN, which pyngrok would put on the agent's
        # command line as `--authtoken`: the config file carries it instead.
        config.auth_token = None
        self._config = config
        try:
            tunnel = ngrok.connect(addr, "http", pyngrok_config=config)
            process = ngrok.get_ngrok_process(config)
        except PyngrokError as error:
            message = str(error).replace(token, "[redacted]")
            self.close()
            raise TunnelError(f"ngrok (RC_NGROK_PATH={agent}) could not open a tunnel: "
                              f"{message}") from None
        self.agent_pid = process.proc.pid
        self._public_url = tunnel.public_url
        if not self._public_url:
            self.close()
            raise TunnelError("ngrok opened a tunnel without a public URL")
        return self._public_url

    def close(self) -> None:
        """Disconnect the tunnel, kill the agent, remove the temp config. Idempotent."""
        config, self._config = self._config, None
        if config is not None:
            from pyngrok import ngrok
            from pyngrok.exception import PyngrokError

            # The agent's API gone, or the agent already dead: nothing left to close. (The
            # agent is killed next either way; pyngrok's own errors, by type, and the OS's.)
            if self._public_url:
                with contextlib.suppress(PyngrokError, OSError):
                    ngrok.disconnect(self._public_url, pyngrok_config=config)
            with contextlib.suppress(PyngrokError, OSError):
                ngrok.kill(pyngrok_config=config)
        self._public_url = None
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None

    def __enter__(self) -> Tunnel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
