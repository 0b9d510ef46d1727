"""The forwarding headers (docs/PROTOCOL.md §9): ``Ok2cry-Key`` carries a key token,
``Ok2cry-Envelope`` a compact envelope. Proxies forward both untouched.

Headers are any mapping of names to values (``httpx.Headers``, a WSGI/ASGI framework's headers,
a plain ``dict``); names are matched without regard to case.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping

from .envelope import Envelope
from .errors import fail
from .wire import trim

__all__ = [
    "ENVELOPE_HEADER",
    "KEY_TOKEN_HEADER",
    "read_envelope_header",
    "read_key_token_header",
    "write_envelope_header",
    "write_key_token_header",
]

#: The header that carries a key token (compact JWS).
KEY_TOKEN_HEADER = "Ok2cry-Key"
#: The header that carries an envelope in compact form.
ENVELOPE_HEADER = "Ok2cry-Envelope"

_TOKEN_TEXT = re.compile(r"[A-Za-z0-9_.-]+")


def _get(headers: Mapping[str, str], name: str) -> str | None:
    get_list = getattr(headers, "get_list", None)
    if callable(get_list):  # httpx.Headers keeps repeated headers apart
        values = [str(v) for v in get_list(name)]
    else:
        values = [str(v) for k, v in headers.items() if k.lower() == name.lower()]
    # Several values would be joined by ", ", which no token or envelope contains.
    return ", ".join(values) if values else None


def _set(headers: MutableMapping[str, str], name: str, value: str) -> None:
    for key in [k for k in headers if k.lower() == name.lower()]:
        del headers[key]
    headers[name] = value


def read_key_token_header(headers: Mapping[str, str]) -> str | None:
    """The key token of the ``Ok2cry-Key`` header, or None. Not verified here: verify it with
    :func:`ok2cry.verify_key_token` before sealing to it."""
    value = _get(headers, KEY_TOKEN_HEADER)
    return None if value is None else trim(value)


def write_key_token_header(headers: MutableMapping[str, str], token: str) -> None:
    """Sets the ``Ok2cry-Key`` header to a key token, unchanged."""
    value = trim(token)
    if _TOKEN_TEXT.fullmatch(value) is None:
        fail("Malformed", "key token: not a compact JWS")
    _set(headers, KEY_TOKEN_HEADER, value)


def read_envelope_header(headers: Mapping[str, str]) -> Envelope | None:
    """The envelope of the ``Ok2cry-Envelope`` header (compact form, §10.3 steps 1 to 6), or None."""
    value = _get(headers, ENVELOPE_HEADER)
    return None if value is None else Envelope.from_compact(value)


def write_envelope_header(headers: MutableMapping[str, str], envelope: Envelope) -> None:
    """Sets the ``Ok2cry-Envelope`` header to the compact form of ``envelope``."""
    _set(headers, ENVELOPE_HEADER, envelope.to_compact())
