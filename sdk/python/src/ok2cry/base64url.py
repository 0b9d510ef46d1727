"""Unpadded base64url exactly as docs/PROTOCOL.md §4.1 defines it.

The codec is the standard library's :mod:`base64`; this module only adds the protocol's
strictness around it, which ``urlsafe_b64decode`` alone does not have: the 64 characters and no
others, no padding, a length that is not 1 modulo 4, and zero unused bits (checked by
re-encoding the decoded bytes and comparing with the text).
"""

from __future__ import annotations

import base64
import re

__all__ = ["decode", "encode"]

_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")


def encode(data: bytes) -> str:
    """The unpadded base64url text of ``data``."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def decode(text: str) -> bytes | None:
    """The bytes of ``text`` if it is exactly the unpadded base64url encoding of some bytes, else None."""
    if not isinstance(text, str) or _ALPHABET.fullmatch(text) is None or len(text) % 4 == 1:
        return None
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    # Only the canonical text of the bytes is accepted: this refuses non-zero unused bits.
    return data if encode(data) == text else None
