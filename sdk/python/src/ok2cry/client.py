"""Clients of the ok2cry service (docs/openapi.json) on ``httpx``, with a client certificate
(mutual TLS): :class:`Client` (blocking) and :class:`AsyncClient` (asyncio).

Both trust only the CA certificates they are given, never the platform's roots; speak TLS 1.2 or
later (the standard library's :mod:`ssl`); follow no redirect; ignore proxy and certificate
settings from the environment (``trust_env=False``); and read at most 4 MiB per response.
Refusals by the service are RFC 9457 problem documents: they come back as :class:`ServiceError`
with the parsed problem.
"""

from __future__ import annotations

import json
import os
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from . import base64url
from .envelope import Envelope
from .errors import Ok2cryError, ProtocolError, UnknownSigningKey
from .jwks import Jwks
from .key_id import check_key_id, is_key_id
from .key_token import VerifiedKey, verify_key_token

__all__ = [
    "DEFAULT_JWKS_MAX_AGE",
    "DEFAULT_TIMEOUT",
    "MAX_RESPONSE_LEN",
    "AsyncClient",
    "Client",
    "CreatedKey",
    "InvalidResponse",
    "ServiceError",
    "TransportError",
]

#: The largest response body read.
MAX_RESPONSE_LEN = 4 * 1024 * 1024
#: The default timeout of one request, in seconds.
DEFAULT_TIMEOUT = 30.0
#: How long a fetched JWK set is used before it is fetched again, in seconds.
DEFAULT_JWKS_MAX_AGE = 300.0

Path = str | os.PathLike[str]


class ServiceError(Ok2cryError):
    """The service answered with an error status; ``problem`` is its RFC 9457 problem document
    (with ``error``, the PROTOCOL.md §11 name, when the refusal is a protocol error)."""

    def __init__(self, status: int, problem: dict[str, Any] | None, retry_after: int | None) -> None:
        text = None if problem is None else problem.get("detail") or problem.get("title")
        super().__init__(f"service refused ({status})" + (f": {text}" if isinstance(text, str) else ""))
        self.status = status
        self.problem = problem
        self.retry_after = retry_after

    @property
    def is_gone(self) -> bool:
        """Whether the key is gone: 410, or 404 (PROTOCOL.md §11.3 treats them alike)."""
        return self.status in (404, 410)


class TransportError(Ok2cryError):
    """The request did not complete: connection, TLS handshake, timeout, reading the body."""


class InvalidResponse(Ok2cryError):  # noqa: N818
    """The response was not what the service's API says."""


@dataclass(frozen=True)
class CreatedKey:
    """A live key as the service describes it. Nothing here is verified: see ``verify_token``."""

    key_id: str
    token: str
    """The key token (JWS compact): verify it before sealing."""
    jwk: dict[str, str]
    created_at: str
    """ISO 8601 UTC."""
    expires_at: str
    """ISO 8601 UTC."""
    max_opens: int
    opens_remaining: int
    opener: str | None


def _ssl_context(ca: Path, cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and the host name
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(cafile=os.fspath(ca))  # only these CAs
    context.load_cert_chain(os.fspath(cert), os.fspath(key))
    return context


def _base_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme != "https":
        raise ValueError("base_url: only https is supported")
    if parts.query or parts.fragment:
        raise ValueError("base_url: no query or fragment")
    return url.strip().rstrip("/")


def _create_body(
    ttl_seconds: int | None, max_opens: int | None, opener: str | None, context: str | None, label: str | None
) -> dict[str, Any]:
    body = {"ttl_seconds": ttl_seconds, "max_opens": max_opens, "opener": opener, "context": context, "label": label}
    return {k: v for k, v in body.items() if v is not None}


def _media_type(response: httpx.Response) -> str:
    value: str = response.headers.get("content-type", "")
    return value.split(";")[0].strip().lower()


def _service_error(response: httpx.Response, body: bytes) -> ServiceError:
    problem: dict[str, Any] | None = None
    if _media_type(response) == "application/problem+json":
        try:
            value = json.loads(body)
        except ValueError:
            value = None
        problem = value if isinstance(value, dict) else None
    retry = response.headers.get("retry-after", "")
    return ServiceError(response.status_code, problem, int(retry) if retry.isdigit() else None)


def _json_object(response: httpx.Response, body: bytes | bytearray) -> dict[str, Any]:
    if _media_type(response) != "application/json":
        raise InvalidResponse(f"expected application/json, got {_media_type(response) or 'nothing'}")
    try:
        value = json.loads(body)
    except ValueError:
        raise InvalidResponse("the body is not JSON") from None
    if not isinstance(value, dict):
        raise InvalidResponse("the body is not a JSON object")
    return value


def _created_key(v: dict[str, Any]) -> CreatedKey:
    def text(name: str) -> str:
        x = v.get(name)
        if not isinstance(x, str):
            raise InvalidResponse(f"key: {name} is not a string")
        return x

    def integer(name: str) -> int:
        x = v.get(name)
        if type(x) is not int:
            raise InvalidResponse(f"key: {name} is not an integer")
        return x

    jwk = v.get("jwk")
    if not isinstance(jwk, dict) or jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise InvalidResponse("key: jwk is not an EC P-256 JWK")
    if not isinstance(jwk.get("x"), str) or not isinstance(jwk.get("y"), str):
        raise InvalidResponse("key: jwk is not an EC P-256 JWK")
    key_id = text("key_id")
    if not is_key_id(key_id):
        raise InvalidResponse("key: key_id is not a key id")
    opener = v.get("opener")
    return CreatedKey(
        key_id=key_id,
        token=text("token"),
        jwk={"kty": "EC", "crv": "P-256", "x": jwk["x"], "y": jwk["y"]},
        created_at=text("created_at"),
        expires_at=text("expires_at"),
        max_opens=integer("max_opens"),
        opens_remaining=integer("opens_remaining"),
        opener=opener if isinstance(opener, str) else None,
    )


def _plaintext(key_id: str, v: dict[str, Any]) -> bytes:
    if v.get("key_id") != key_id:
        raise InvalidResponse("open: the service answered for another key")
    if v.get("encoding") != "base64url":
        raise InvalidResponse("open: plaintext encoding is not base64url")
    text = v.get("plaintext")
    plaintext = base64url.decode(text) if isinstance(text, str) else None
    if plaintext is None:
        raise InvalidResponse("open: plaintext is not base64url")
    return plaintext


def _envelope(envelope: Envelope | str) -> dict[str, Any]:
    parsed = envelope if isinstance(envelope, Envelope) else Envelope.parse(envelope)
    return {"envelope": parsed.to_dict()}


def _read_limited(chunks: Iterator[bytes]) -> bytearray:
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) > MAX_RESPONSE_LEN:
            raise InvalidResponse("response too large")
    return body


async def _aread_limited(chunks: AsyncIterator[bytes]) -> bytearray:
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > MAX_RESPONSE_LEN:
            raise InvalidResponse("response too large")
    return body


def _wipe(body: bytearray) -> None:
    body[:] = bytes(len(body))


class _JwksCache:
    def __init__(self, max_age: float) -> None:
        self.max_age = max_age
        self.jwks: Jwks | None = None
        self.fetched = 0.0

    def fresh(self) -> Jwks | None:
        if self.jwks is not None and time.monotonic() - self.fetched < self.max_age:
            return self.jwks
        return None

    def store(self, response: httpx.Response, body: bytes | bytearray) -> Jwks:
        _json_object(response, body)  # the media type, and an object
        try:
            jwks = Jwks.parse(bytes(body))
        except ProtocolError as e:
            raise InvalidResponse(f"JWK set: {e}") from None
        self.jwks, self.fetched = jwks, time.monotonic()
        return jwks


class Client:
    """A blocking client of the ok2cry service, authenticated by a client certificate.

    ``ca`` is the file of the CA certificate(s) to trust (only these); ``cert`` and ``key`` the
    client certificate (chain) and its private key, PEM files. Use it as a context manager, or
    call :meth:`close`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        ca: Path,
        cert: Path,
        key: Path,
        timeout: float = DEFAULT_TIMEOUT,
        jwks_max_age: float = DEFAULT_JWKS_MAX_AGE,
    ) -> None:
        self._http = httpx.Client(
            base_url=_base_url(base_url),
            verify=_ssl_context(ca, cert, key),
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
        )
        self._jwks = _JwksCache(jwks_max_age)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Closes the connections."""
        self._http.close()

    def _send(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[httpx.Response, bytearray]:
        try:
            with self._http.stream(method, path, json=body, headers={"accept": "application/json"}) as response:
                data = _read_limited(response.iter_bytes())
        except httpx.HTTPError as e:
            raise TransportError(f"{method} {path}: {type(e).__name__}: {e}") from e
        if not 200 <= response.status_code < 300:
            raise _service_error(response, bytes(data))
        return response, data

    def create_key(
        self,
        *,
        ttl_seconds: int | None = None,
        max_opens: int | None = None,
        opener: str | None = None,
        context: str | None = None,
        label: str | None = None,
    ) -> CreatedKey:
        """``POST /v1/keys``: asks for a disposable key (the service applies its defaults and bounds)."""
        body = _create_body(ttl_seconds, max_opens, opener, context, label)
        return _created_key(_json_object(*self._send("POST", "/v1/keys", body)))

    def get_key(self, key_id: str) -> CreatedKey:
        """``GET /v1/keys/{key_id}``: a live key, with a freshly signed token."""
        key = _created_key(_json_object(*self._send("GET", f"/v1/keys/{check_key_id(key_id)}")))
        if key.key_id != key_id:
            raise InvalidResponse("the service described another key")
        return key

    def open(self, key_id: str, envelope: Envelope | str) -> bytes:
        """``POST /v1/keys/{key_id}/open``: has the service open ``envelope`` with the key (the
        caller must be its designated opener). Returns the plaintext; the response buffer is wiped."""
        check_key_id(key_id)
        response, body = self._send("POST", f"/v1/keys/{key_id}/open", _envelope(envelope))
        try:
            return _plaintext(key_id, _json_object(response, body))
        finally:
            _wipe(body)

    def delete_key(self, key_id: str) -> None:
        """``DELETE /v1/keys/{key_id}``: destroys the key early."""
        self._send("DELETE", f"/v1/keys/{check_key_id(key_id)}")

    def jwks(self) -> Jwks:
        """The service's JWK set (``GET /.well-known/jwks.json``), cached for ``jwks_max_age``."""
        cached = self._jwks.fresh()
        return cached if cached is not None else self.refresh_jwks()

    def refresh_jwks(self) -> Jwks:
        """Fetches the JWK set again, and caches it."""
        return self._jwks.store(*self._send("GET", "/.well-known/jwks.json"))

    def verify_token(self, token: str) -> VerifiedKey:
        """Verifies a key token against the service's JWK set now (PROTOCOL.md §10.2). When the
        token's signing key is not in the cached set (the service rotated its key), the set is
        fetched once more; a kid still unknown is ``UnknownSigningKey``."""
        try:
            return verify_key_token(token, self.jwks())
        except UnknownSigningKey:
            return verify_key_token(token, self.refresh_jwks())


class AsyncClient:
    """The asyncio client of the ok2cry service: :class:`Client`'s methods, awaitable. Use it as an
    async context manager, or await :meth:`aclose`."""

    def __init__(
        self,
        base_url: str,
        *,
        ca: Path,
        cert: Path,
        key: Path,
        timeout: float = DEFAULT_TIMEOUT,
        jwks_max_age: float = DEFAULT_JWKS_MAX_AGE,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=_base_url(base_url),
            verify=_ssl_context(ca, cert, key),
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
        )
        self._jwks = _JwksCache(jwks_max_age)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Closes the connections."""
        await self._http.aclose()

    async def _send(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[httpx.Response, bytearray]:
        try:
            async with self._http.stream(method, path, json=body, headers={"accept": "application/json"}) as response:
                data = await _aread_limited(response.aiter_bytes())
        except httpx.HTTPError as e:
            raise TransportError(f"{method} {path}: {type(e).__name__}: {e}") from e
        if not 200 <= response.status_code < 300:
            raise _service_error(response, bytes(data))
        return response, data

    async def create_key(
        self,
        *,
        ttl_seconds: int | None = None,
        max_opens: int | None = None,
        opener: str | None = None,
        context: str | None = None,
        label: str | None = None,
    ) -> CreatedKey:
        """``POST /v1/keys``: see :meth:`Client.create_key`."""
        body = _create_body(ttl_seconds, max_opens, opener, context, label)
        return _created_key(_json_object(*await self._send("POST", "/v1/keys", body)))

    async def get_key(self, key_id: str) -> CreatedKey:
        """``GET /v1/keys/{key_id}``: see :meth:`Client.get_key`."""
        key = _created_key(_json_object(*await self._send("GET", f"/v1/keys/{check_key_id(key_id)}")))
        if key.key_id != key_id:
            raise InvalidResponse("the service described another key")
        return key

    async def open(self, key_id: str, envelope: Envelope | str) -> bytes:
        """``POST /v1/keys/{key_id}/open``: see :meth:`Client.open`."""
        check_key_id(key_id)
        response, body = await self._send("POST", f"/v1/keys/{key_id}/open", _envelope(envelope))
        try:
            return _plaintext(key_id, _json_object(response, body))
        finally:
            _wipe(body)

    async def delete_key(self, key_id: str) -> None:
        """``DELETE /v1/keys/{key_id}``: destroys the key early."""
        await self._send("DELETE", f"/v1/keys/{check_key_id(key_id)}")

    async def jwks(self) -> Jwks:
        """The service's JWK set, cached for ``jwks_max_age``."""
        cached = self._jwks.fresh()
        return cached if cached is not None else await self.refresh_jwks()

    async def refresh_jwks(self) -> Jwks:
        """Fetches the JWK set again, and caches it."""
        return self._jwks.store(*await self._send("GET", "/.well-known/jwks.json"))

    async def verify_token(self, token: str) -> VerifiedKey:
        """See :meth:`Client.verify_token`."""
        try:
            return verify_key_token(token, await self.jwks())
        except UnknownSigningKey:
            return verify_key_token(token, await self.refresh_jwks())
