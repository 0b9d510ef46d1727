"""A P-256 private key that opens envelopes (docs/PROTOCOL.md §10.3 steps 7 to 9).

HPKE open is pyca ``cryptography``'s. The key is a ``cryptography`` key object (its scalar lives
in OpenSSL, not in a Python integer, except for the moment :meth:`PrivateKey.from_scalar` is
given one) kept in a private attribute: it has no ``repr``, cannot be pickled or copied, and
never appears in an error message.
"""

from __future__ import annotations

from typing import Any, NoReturn

from cryptography.hazmat.primitives.asymmetric import ec

from . import base64url
from .envelope import Envelope
from .errors import fail
from .key_id import check_key_id
from .public_key import JsonInput, PublicKey, read_json_input, read_jwk_shape
from .suite import MAX_CONTEXT_LEN, MAX_SEALED_LEN, MIN_SEALED_LEN, hpke_suite, info
from .wire import utf8_length

__all__ = ["PrivateKey"]


class PrivateKey:
    """An EC P-256 private key, with which envelopes sealed to its public key are opened. For an
    end user's one-time key use :class:`ok2cry.LocalKey`, which also opens only once."""

    __slots__ = ("__key", "public_key")

    public_key: PublicKey
    """The public key."""
    __key: ec.EllipticCurvePrivateKey

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
            raise TypeError("a P-256 private key")
        object.__setattr__(self, "_PrivateKey__key", key)
        object.__setattr__(self, "public_key", PublicKey(key.public_key()))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("a PrivateKey cannot be changed")

    def __reduce__(self) -> NoReturn:
        raise TypeError("a private key has no serialized form")

    def __repr__(self) -> str:
        return f"PrivateKey(public={self.public_key.thumbprint!r})"

    @classmethod
    def generate(cls) -> PrivateKey:
        """A new random key (``cryptography``, OpenSSL's generator)."""
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_scalar(cls, scalar: bytes) -> PrivateKey:
        """A key from its 32-byte big-endian scalar (RFC 9180 ``DeserializePrivateKey``): anything but
        a scalar in [1, n) of exactly 32 bytes is ``InvalidPrivateKey``."""
        if not isinstance(scalar, (bytes, bytearray)) or len(scalar) != 32:
            fail("InvalidPrivateKey", "not 32 bytes")
        try:
            key = ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1())
        except ValueError:
            fail("InvalidPrivateKey", "not a P-256 scalar in [1, n)")
        return cls(key)

    @classmethod
    def from_jwk(cls, jwk: JsonInput) -> PrivateKey:
        """A key from a private JWK (``kty`` EC, ``crv`` P-256, ``x``, ``y``, ``d``), read strictly:
        a shape outside §7.3 or a ``d`` that is not a string is ``Malformed``; another key type or
        curve, a ``d`` that is not 32 bytes of base64url or does not match ``x`` and ``y`` is
        ``InvalidPrivateKey``."""
        value: Any = read_json_input(jwk, "private JWK")
        shape = read_jwk_shape(value, "private JWK")
        d = value.get("d")
        if type(d) is not str:
            fail("Malformed", "private JWK: d must be a string")
        if shape.kty != "EC" or shape.crv != "P-256":
            fail("InvalidPrivateKey", "not an EC P-256 key")
        scalar = base64url.decode(d)
        if scalar is None:
            fail("InvalidPrivateKey", "d is not base64url")
        key = cls.from_scalar(scalar)
        if key.public_key.jwk["x"] != shape.x or key.public_key.jwk["y"] != shape.y:
            fail("InvalidPrivateKey", "d does not match x and y")
        return key

    def open(self, envelope: Envelope, *, key_id: str, context: str = "") -> bytes:
        """Opens an envelope with this key, by the opener's own records (§10.3 steps 7 to 9):
        another key id than ``key_id`` is ``KeyIdMismatch``; an envelope that names another
        context than ``context`` is ``ContextMismatch``; every decryption failure is
        ``OpenFailed``, with no detail."""
        if not isinstance(envelope, Envelope):
            raise TypeError("open: an Envelope (Envelope.parse)")
        check_key_id(key_id)
        if envelope.key_id != key_id:
            fail("KeyIdMismatch", "the envelope is for another key id")
        if envelope.context is not None and envelope.context != context:
            fail("ContextMismatch", "the envelope names another context than the one expected")
        return self.open_sealed(envelope.sealed, key_id=key_id, context=context)

    def open_sealed(self, sealed: bytes, *, key_id: str, context: str = "") -> bytes:
        """Opens raw sealed bytes (enc ‖ ciphertext) with the opener's key id and context (§10.3
        step 9 alone): anything that does not open, wrong lengths included, is ``OpenFailed``."""
        check_key_id(key_id)
        if utf8_length(context) > MAX_CONTEXT_LEN:
            fail("ContextTooLong", "context over 256 bytes")
        if not isinstance(sealed, (bytes, bytearray)) or not MIN_SEALED_LEN <= len(sealed) <= MAX_SEALED_LEN:
            fail("OpenFailed", "cannot open")
        try:
            return hpke_suite().decrypt(bytes(sealed), self.__key, info=info(key_id, context))
        except Exception:  # noqa: BLE001 — deliberately coarse (§11.1): no detail of what did not match
            fail("OpenFailed", "cannot open")
