"""Key tokens (docs/PROTOCOL.md §7), verified in the order of §10.2 into a :class:`VerifiedKey`,
the only thing :func:`ok2cry.seal` seals to.

The ES256 signature is checked by pyca ``cryptography`` (ECDSA P-256 with SHA-256; the JWS
``R ‖ S`` form is turned into the DER form it takes with ``encode_dss_signature``).
"""

from __future__ import annotations

import time
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from . import base64url
from .errors import fail
from .jwks import Jwks
from .key_id import check_key_id
from .public_key import PublicJwk, PublicKey, read_jwk_shape
from .strict_json import MAX_INTEGER, read_json
from .suite import CLOCK_SKEW_SECONDS, MAX_CONTEXT_LEN, MAX_TOKEN_LEN, SUITE, VERSION
from .wire import trim, utf8_length

__all__ = ["VerifiedKey", "verify_key_token"]

_CLAIMS = frozenset({"iss", "key_id", "jwk", "iat", "exp", "max_opens", "suite", "v", "context"})
_MAX_ISSUER_LEN = 256
_MAX_OPENS = 2**32 - 1
_GUARD = object()


class VerifiedKey:
    """A key token that verified (§10.2, every step): the key id, context and public key to seal
    to. Only :func:`verify_key_token` makes one."""

    __slots__ = (
        "context",
        "expires_at",
        "issued_at",
        "issuer",
        "key_id",
        "max_opens",
        "public_key",
        "signing_kid",
        "token",
    )

    key_id: str
    """The key id (``key_id``)."""
    context: str
    """The context to bind when sealing (``""`` when there is none)."""
    public_key: PublicKey
    """The recipient public key (``jwk``)."""
    issuer: str
    """``iss``: informational (§7.2); trust comes from the JWK set."""
    issued_at: int
    """``iat``, seconds since the Unix epoch."""
    expires_at: int
    """``exp``: the key is destroyed no later than this."""
    max_opens: int
    """The opens remaining when the token was signed."""
    signing_kid: str
    """The ``kid`` of the service signing key that signed the token."""
    token: str
    """The token as verified (surrounding whitespace removed), to forward unchanged."""

    def __init__(self, guard: object, **fields: Any) -> None:
        if guard is not _GUARD:
            raise TypeError("a VerifiedKey comes only from verify_key_token")
        for name in self.__slots__:
            object.__setattr__(self, name, fields[name])

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("a VerifiedKey cannot be changed")

    def __reduce__(self) -> Any:
        raise TypeError("a VerifiedKey is not serialized: forward its token and verify it again")

    @property
    def jwk(self) -> PublicJwk:
        """The recipient public key as a JWK."""
        return self.public_key.jwk

    def __repr__(self) -> str:
        return f"VerifiedKey(key_id={self.key_id!r}, context={self.context!r}, expires_at={self.expires_at})"


def _integer(value: Any, maximum: int = MAX_INTEGER) -> int | None:
    return value if type(value) is int and value <= maximum else None


def verify_key_token(token: str, jwks: Jwks, *, now: int | None = None) -> VerifiedKey:
    """Verifies a key token against the service's JWK set, all of §10.2 in its order, and raises
    the §11 error of the first failing step: ``Malformed``, ``InvalidKeyId``,
    ``UnsupportedAlgorithm``, ``WrongTokenType``, ``UnknownSigningKey``, ``BadSignature``,
    ``UnsupportedVersion``, ``UnsupportedSuite``, ``Expired``, ``NotYetValid``,
    ``ContextTooLong``, ``InvalidPublicKey``. Nothing in the token is believed before its
    signature verifies. ``now``: whole seconds since the epoch (default: the clock)."""
    if now is None:
        now = int(time.time())
    if type(now) is not int or now < 0:
        raise TypeError("now: whole seconds since the epoch")
    if not isinstance(token, str):
        fail("Malformed", "key token: not text")
    if not isinstance(jwks, Jwks):
        raise TypeError("jwks: a Jwks (Jwks.parse)")

    # 1. Text: whitespace, length, three parts, each base64url.
    text = trim(token)
    try:
        length = utf8_length(text)
    except UnicodeEncodeError:
        fail("Malformed", "key token: not text")
    if length > MAX_TOKEN_LEN:
        fail("Malformed", "key token: too long")
    parts = text.split(".")
    if len(parts) != 3:
        fail("Malformed", "key token: expected three dot-separated parts")
    header_part, claims_part, signature_part = parts
    header_bytes = base64url.decode(header_part)
    claims_bytes = base64url.decode(claims_part)
    signature = base64url.decode(signature_part)
    if header_bytes is None:
        fail("Malformed", "key token header: not base64url")
    if claims_bytes is None:
        fail("Malformed", "key token claims: not base64url")
    if signature is None:
        fail("Malformed", "key token signature: not base64url")

    # 2. Header: exactly alg, typ, kid, each a string.
    h = read_json(header_bytes, "key token header")
    if not isinstance(h, dict) or not set(h) <= {"alg", "typ", "kid"}:
        fail("Malformed", "key token header: members")
    alg, typ, kid = h.get("alg"), h.get("typ"), h.get("kid")
    if type(alg) is not str or type(typ) is not str or type(kid) is not str:
        fail("Malformed", "key token header: alg, typ and kid must be strings")

    # 3. Claims: exactly the claims of §7.2, of their types and ranges; jwk's shape; the key id.
    c = read_json(claims_bytes, "key token claims")
    if not isinstance(c, dict) or not set(c) <= _CLAIMS:
        fail("Malformed", "key token claims: members")
    iss = c.get("iss")
    key_id = c.get("key_id")
    iat = _integer(c.get("iat"))
    exp = _integer(c.get("exp"))
    max_opens = _integer(c.get("max_opens"), _MAX_OPENS)
    suite = c.get("suite")
    v = _integer(c.get("v"))
    context = c.get("context")
    if type(iss) is not str or not 1 <= utf8_length(iss) <= _MAX_ISSUER_LEN:
        fail("Malformed", "claims: iss")
    if type(key_id) is not str:
        fail("Malformed", "claims: key_id")
    if "jwk" not in c:
        fail("Malformed", "claims: jwk")
    if iat is None:
        fail("Malformed", "claims: iat")
    if exp is None:
        fail("Malformed", "claims: exp")
    if max_opens is None or max_opens < 1:
        fail("Malformed", "claims: max_opens")
    if type(suite) is not str:
        fail("Malformed", "claims: suite")
    if v is None:
        fail("Malformed", "claims: v")
    if "context" in c and type(context) is not str:
        fail("Malformed", "claims: context")
    jwk = read_jwk_shape(c["jwk"], "claims: jwk")
    check_key_id(key_id)

    # 4, 5.
    if alg != "ES256":
        fail("UnsupportedAlgorithm", "alg is not ES256")
    if typ != "ok2cry-key+jwt":
        fail("WrongTokenType", "typ is not ok2cry-key+jwt")

    # 6.
    verify_key = jwks.signing_key(kid)

    # 7. The signature over `<header part>.<claims part>` as received: 64 bytes R ‖ S.
    if len(signature) != 64:
        fail("BadSignature", "the signature is not 64 bytes")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    try:
        verify_key.verify(
            encode_dss_signature(r, s),
            f"{header_part}.{claims_part}".encode("ascii"),
            ec.ECDSA(hashes.SHA256()),
        )
    except (InvalidSignature, ValueError):
        fail("BadSignature", "the signature does not verify")

    # 8 to 15: only now is anything in the claims believed.
    if v != VERSION:
        fail("UnsupportedVersion", "v is not 1")
    if suite != SUITE:
        fail("UnsupportedSuite", "suite is not STRONG")
    if iat > exp:
        fail("Malformed", "claims: iat after exp")
    if now >= exp:
        fail("Expired", "the key token has expired")
    if iat > now + CLOCK_SKEW_SECONDS:
        fail("NotYetValid", "the key token is issued in the future")
    if jwk.kid is not None and jwk.kid != key_id:
        fail("Malformed", "claims: jwk kid is not key_id")
    if context is not None and utf8_length(context) > MAX_CONTEXT_LEN:
        fail("ContextTooLong", "context over 256 bytes")
    public_key = PublicKey.from_shape(jwk, "InvalidPublicKey")

    return VerifiedKey(
        _GUARD,
        key_id=key_id,
        context=context or "",
        public_key=public_key,
        issuer=iss,
        issued_at=iat,
        expires_at=exp,
        max_opens=max_opens,
        signing_kid=kid,
        token=text,
    )
