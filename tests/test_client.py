"""The recording client over real loopback sockets: statuses, transport failures, redirects."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest
import requests
from urllib3 import exceptions as u3

from redcloud_check.core.client import (
    ApiClient,
    SecretSet,
    basic_header,
    classify_transport_error,
)
from redcloud_check.core.errors import TargetUnreachable
from redcloud_check.core.recorder import Recorder


def _raw_server(answer: Callable[[socket.socket], None]) -> Iterator[str]:
    """A one-purpose TCP server on 127.0.0.1:0 that handles each connection with `answer`."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                answer(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    listener.close()


def _client(base_url: str, timeout: float = 2.0) -> ApiClient:
    return ApiClient(base_url, timeout=timeout, recorder=Recorder(), secrets=SecretSet())


@pytest.fixture
def json_server() -> Iterator[str]:
    body = b'{"access_token":"tok_abc","token_type":"bearer","expires_in":3600}'
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Request-Id: req_h1\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
    yield from _raw_server(lambda conn: conn.sendall(head + body))


def test_exchange_is_recorded_with_timings_and_request_id(json_server: str) -> None:
    client = _client(json_server)
    client.recorder.current_check = "checks/x.py::test_y"
    exchange = client.request("POST", "/api/auth/token", form={"grant_type": "client_credentials"},
                              headers={"Authorization": basic_header("id", "sec")}, label="t")
    assert exchange.status == 200
    assert exchange.json()["token_type"] == "bearer"
    assert exchange.request_id == "req_h1"
    first_byte = exchange.timings.first_byte
    assert first_byte is not None and 0 < first_byte <= exchange.timings.total
    assert exchange.check == "checks/x.py::test_y"
    assert client.recorder.for_check("checks/x.py::test_y") == [exchange]
    assert exchange.request_body == b"grant_type=client_credentials"


def test_issued_tokens_join_the_secret_set(json_server: str) -> None:
    client = _client(json_server)
    client.request("POST", "/api/auth/token")
    assert "tok_abc" in client.secrets.values()


def test_refused_connection_is_classified_and_recorded() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    client = _client(f"http://127.0.0.1:{port}")
    with pytest.raises(TargetUnreachable) as info:
        client.request("GET", "/api/core/whoami")
    assert info.value.kind == "refused"
    (recorded,) = client.recorder.all()
    assert recorded.status is None and recorded.error_kind == "refused"


def test_read_timeout_is_classified() -> None:
    release = threading.Event()
    servers = _raw_server(lambda conn: release.wait(5))
    url = next(servers)
    try:
        with pytest.raises(TargetUnreachable) as info:
            _client(url, timeout=0.3).request("GET", "/api/core/whoami")
        assert info.value.kind == "timeout"
    finally:
        release.set()
        next(servers, None)


def test_truncated_body_is_classified() -> None:
    answer = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n"
              b"Connection: close\r\n\r\n{\"numbers\": [")
    servers = _raw_server(lambda conn: conn.sendall(answer))
    url = next(servers)
    with pytest.raises(TargetUnreachable) as info:
        _client(url).request("GET", "/api/core/numbers")
    assert info.value.kind == "truncated"
    next(servers, None)


def test_dns_failure_is_classified(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*args: object, **kwargs: object) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(TargetUnreachable) as info:
        _client("http://api.redcloud.invalid").request("GET", "/api/core/whoami")
    assert info.value.kind == "dns"


def test_redirects_are_reported_not_followed() -> None:
    answer = (b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.2:9/elsewhere\r\n"
              b"Content-Length: 0\r\nConnection: close\r\n\r\n")
    servers = _raw_server(lambda conn: conn.sendall(answer))
    url = next(servers)
    exchange = _client(url).request("GET", "/api/core/whoami",
                                    headers={"Authorization": "Bearer t"})
    assert exchange.status == 302
    assert exchange.header("location") == "http://127.0.0.2:9/elsewhere"
    next(servers, None)


def test_non_json_body_is_kept_for_the_report() -> None:
    body = b"<html>bad gateway</html>"
    answer = (b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: %d\r\n"
              b"Connection: close\r\n\r\n" % len(body)) + body
    servers = _raw_server(lambda conn: conn.sendall(answer))
    url = next(servers)
    exchange = _client(url).request("GET", "/api/core/whoami")
    assert exchange.status == 502
    assert exchange.json_or_none() is None
    assert exchange.response_body.startswith(b"<html>")
    next(servers, None)


def test_tls_failure_is_classified(json_server: str) -> None:
    """https:// to a plain-HTTP server: the TLS handshake fails."""
    with pytest.raises(TargetUnreachable) as info:
        _client(json_server.replace("http://", "https://")).request("GET", "/api/core/whoami")
    assert info.value.kind == "tls"


def _retries(reason: BaseException) -> u3.MaxRetryError:
    return u3.MaxRetryError(None, "/api/core/whoami", reason=reason)


def _refused() -> u3.NewConnectionError:
    try:
        raise u3.NewConnectionError(None, "Failed to establish a new connection") \
            from ConnectionRefusedError(111, "Connection refused")
    except u3.NewConnectionError as error:
        return error


# requests' errors as requests raises them (wrapping urllib3's, wrapping the socket's).
@pytest.mark.parametrize(("error", "kind"), [
    (requests.ConnectTimeout(_retries(u3.ConnectTimeoutError(None, "timed out"))), "timeout"),
    (requests.ReadTimeout(u3.ReadTimeoutError(None, "/", "read timed out")),
     "timeout"),
    (requests.ConnectionError(u3.ReadTimeoutError(None, "/", "read timed out")),
     "timeout"),  # a read timeout while the body streams
    (requests.exceptions.SSLError(_retries(u3.SSLError("certificate verify failed"))), "tls"),
    (requests.ConnectionError(_retries(u3.NameResolutionError(
        "api.invalid", None, socket.gaierror(-2, "Name or service not known")))),
     "dns"),
    (requests.ConnectionError(_retries(_refused())), "refused"),
    (requests.exceptions.ProxyError(_retries(u3.ProxyError("Unable to connect to proxy",
                                                           _refused()))), "refused"),
    (requests.exceptions.ProxyError(_retries(u3.ProxyError("Unable to connect to proxy",
                                                           OSError("tunnel failed")))),
     "connection"),
    (requests.exceptions.ChunkedEncodingError(u3.ProtocolError(
        "Connection broken: IncompleteRead", u3.IncompleteRead(5, 10))), "truncated"),
    (requests.exceptions.ContentDecodingError(u3.DecodeError("bad gzip")), "truncated"),
    (requests.TooManyRedirects("Exceeded 30 redirects."), "connection"),
    (requests.exceptions.InvalidURL("Invalid URL 'http://': No host supplied"), "connection"),
    (requests.ConnectionError(u3.ProtocolError("Connection aborted.", ConnectionResetError(
        104, "Connection reset by peer"))), "connection"),
    # By type, never by message text: a message that says "refused" is not enough.
    (requests.ConnectionError("the proxy refused: IncompleteRead NameResolution"), "connection"),
])
def test_transport_errors_are_classified_by_type(error: BaseException, kind: str) -> None:
    assert classify_transport_error(error) == kind
