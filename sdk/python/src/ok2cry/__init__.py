"""ok2cry — protocol v1 (suite STRONG) for Python.

The normative text is docs/PROTOCOL.md in the ok2cry repository; this package implements it on
pyca ``cryptography`` (HPKE, ECDSA, P-256) and the standard library (base64, json, hashlib,
ssl), with an ``httpx`` client of the service. Nothing cryptographic is written here.

Table of contents:

- :mod:`ok2cry.errors`: one exception class per PROTOCOL.md §11 name (``Malformed``, …
  ``OpenFailed``), all :class:`ProtocolError`; :class:`KeyUsedError`.
- :mod:`ok2cry.suite`: the constants of suite STRONG and ``info`` (§1, §3, §6).
- :mod:`ok2cry.base64url`, :mod:`ok2cry.strict_json`, :mod:`ok2cry.wire`: the strict text rules
  (§4.1, §10.1) around the standard library's codecs.
- :mod:`ok2cry.key_id`: key ids (§2).
- :mod:`ok2cry.public_key`: public keys as JWKs, thumbprints (§7.3, §8).
- :mod:`ok2cry.jwks`: the service's JWK set (§7.4).
- :mod:`ok2cry.key_token`: :func:`verify_key_token` → :class:`VerifiedKey` (§7, §10.2).
- :mod:`ok2cry.envelope`: :class:`Envelope` and its two forms (§5, §10.3); :func:`seal`,
  :func:`seal_to` (§4).
- :mod:`ok2cry.private_key`: :class:`PrivateKey`, opening (§10.3 steps 7 to 9).
- :mod:`ok2cry.local_key`: :class:`LocalKey`, an end user's one-time key (§8).
- :mod:`ok2cry.headers`: ``Ok2cry-Key`` and ``Ok2cry-Envelope`` (§9).
- :mod:`ok2cry.client`: :class:`Client` and :class:`AsyncClient` of the service (httpx, mTLS).
"""

from .client import AsyncClient, Client, CreatedKey, InvalidResponse, ServiceError, TransportError
from .envelope import Envelope, seal, seal_to
from .errors import (
    ERROR_NAMES,
    BadSignature,
    ContextMismatch,
    ContextTooLong,
    Expired,
    InvalidKeyId,
    InvalidPrivateKey,
    InvalidPublicKey,
    KeyIdMismatch,
    KeyUsedError,
    Malformed,
    NotYetValid,
    Ok2cryError,
    OpenFailed,
    PlaintextSize,
    ProtocolError,
    SealFailed,
    UnknownSigningKey,
    UnsupportedAlgorithm,
    UnsupportedSuite,
    UnsupportedVersion,
    WrongTokenType,
)
from .headers import (
    ENVELOPE_HEADER,
    KEY_TOKEN_HEADER,
    read_envelope_header,
    read_key_token_header,
    write_envelope_header,
    write_key_token_header,
)
from .jwks import Jwks
from .key_id import is_key_id
from .key_token import VerifiedKey, verify_key_token
from .local_key import LocalKey
from .private_key import PrivateKey
from .public_key import PublicKey
from .suite import info

__version__ = "0.1.0"

__all__ = [
    "ENVELOPE_HEADER",
    "ERROR_NAMES",
    "KEY_TOKEN_HEADER",
    "AsyncClient",
    "BadSignature",
    "Client",
    "ContextMismatch",
    "ContextTooLong",
    "CreatedKey",
    "Envelope",
    "Expired",
    "InvalidKeyId",
    "InvalidPrivateKey",
    "InvalidPublicKey",
    "InvalidResponse",
    "Jwks",
    "KeyIdMismatch",
    "KeyUsedError",
    "LocalKey",
    "Malformed",
    "NotYetValid",
    "Ok2cryError",
    "OpenFailed",
    "PlaintextSize",
    "PrivateKey",
    "ProtocolError",
    "PublicKey",
    "SealFailed",
    "ServiceError",
    "TransportError",
    "UnknownSigningKey",
    "UnsupportedAlgorithm",
    "UnsupportedSuite",
    "UnsupportedVersion",
    "VerifiedKey",
    "WrongTokenType",
    "info",
    "is_key_id",
    "read_envelope_header",
    "read_key_token_header",
    "seal",
    "seal_to",
    "verify_key_token",
    "write_envelope_header",
    "write_key_token_header",
]
