"""The one suite, STRONG (docs/PROTOCOL.md §1), its limits (§6) and ``info`` (§3).

HPKE is pyca ``cryptography``'s (:mod:`cryptography.hazmat.primitives.hpke`).
"""

from __future__ import annotations

from typing import Final

from cryptography.hazmat.primitives import hpke

__all__ = [
    "CLOCK_SKEW_SECONDS",
    "ENC_LEN",
    "MAX_CONTEXT_LEN",
    "MAX_PLAINTEXT_LEN",
    "MAX_SEALED_LEN",
    "MAX_TOKEN_LEN",
    "MIN_SEALED_LEN",
    "SUITE",
    "TAG_LEN",
    "VERSION",
    "hpke_suite",
    "info",
]

#: The suite's name, as key tokens carry it.
SUITE: Final = "STRONG"
#: The protocol version.
VERSION: Final = 1
#: Length of ``enc``: an uncompressed SEC1 P-256 point.
ENC_LEN: Final = 65
#: Length of the AES-256-GCM tag.
TAG_LEN: Final = 16
#: The largest plaintext, 64 KiB; the smallest is one byte.
MAX_PLAINTEXT_LEN: Final = 65536
#: The shortest sealed bytes: a one-byte plaintext.
MIN_SEALED_LEN: Final = ENC_LEN + 1 + TAG_LEN
#: The longest sealed bytes.
MAX_SEALED_LEN: Final = ENC_LEN + MAX_PLAINTEXT_LEN + TAG_LEN
#: The longest context, in UTF-8 bytes.
MAX_CONTEXT_LEN: Final = 256
#: The longest key token, in bytes.
MAX_TOKEN_LEN: Final = 8192
#: How far in the future a token's ``iat`` may be, in seconds.
CLOCK_SKEW_SECONDS: Final = 60

_SUITE: Final = hpke.Suite(hpke.KEM.P256, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


def hpke_suite() -> hpke.Suite:
    """Base mode, DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM; empty AAD (``cryptography``)."""
    return _SUITE


def info(key_id: str, context: str) -> bytes:
    """info = "ok2cry/v1" ‖ 0x00 ‖ key_id ‖ 0x00 ‖ context (§3)."""
    return b"ok2cry/v1\x00" + key_id.encode("ascii") + b"\x00" + context.encode("utf-8")
