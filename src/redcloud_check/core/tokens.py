"""The run's bearer token: acquired once with HTTP Basic credentials, again when it expires."""

from __future__ import annotations

import threading
import time

from redcloud_check.core.client import ApiClient, basic_header
from redcloud_check.core.config import Settings
from redcloud_check.core.exchange import Exchange
from redcloud_check.core.models import Token

__all__ = ["TokenProvider", "parse_token"]


class TokenProvider:
    """Acquires the run's bearer token once (HTTP Basic), and again when it expires (unless
    `refresh` is False: doctor's bounded requests keep the one token it was issued)."""

    def __init__(self, client: ApiClient, settings: Settings, *, refresh: bool = True) -> None:
        self._client = client
        self._settings = settings
        self._token: Token | None = None
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()  # one refresh at a time, whatever thread asks
        self._refresh = refresh

    def acquire(
        self, label: str = "token: HTTP Basic credentials"
    ) -> tuple[Exchange, Token | None]:
        """Request a new token; returns the exchange and the token if one was issued."""
        exchange = self._client.request(
            "POST", "/api/auth/token",
            headers={"Authorization": basic_header(self._settings.client_id,
                                                   self._settings.client_secret)},
            form={"grant_type": "client_credentials"}, label=label,
        )
        token = parse_token(exchange)
        if token is not None:
            with self._lock:
                self._token = token
        return exchange, token

    def issued(self) -> bool:
        """A token was issued for the configured pair in this run (the pair is right)."""
        with self._lock:
            return self._token is not None

    def current(self) -> Token | None:
        """The run's token; a new one when it has expired (asked once, however many threads
        want it meanwhile)."""
        usable = self._usable()
        if usable is not None:
            return usable
        with self._refreshing:
            usable = self._usable()  # another thread may have refreshed it meanwhile
            if usable is not None:
                return usable
            _, token = self.acquire("token: refresh for CORE calls")
            return token

    def _usable(self) -> Token | None:
        with self._lock:
            if self._token is not None and (self._token.fresh() or not self._refresh):
                return self._token
            return None


def parse_token(exchange: Exchange) -> Token | None:
    if exchange.status != 200:
        return None
    body = exchange.json_or_none()
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        return None
    expires = body.get("expires_in")
    ttl = float(expires) if isinstance(expires, int | float) and expires > 0 else 3600.0
    return Token(body["access_token"], time.monotonic(), ttl)
