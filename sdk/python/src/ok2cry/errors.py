"""The errors of docs/PROTOCOL.md §11, one class per name, and the few that are not protocol
errors.

Every refusal by the protocol's rules is a :class:`ProtocolError` subclass named exactly as §11
names it (``Malformed``, ``InvalidKeyId``, … ``OpenFailed``, ``SealFailed``); its ``code`` is that
name. Messages name the rule and never hold a secret. Decryption failures are deliberately
coarse: every one of them is ``OpenFailed("cannot open")``.
"""

from __future__ import annotations

from typing import ClassVar, NoReturn

__all__ = [
    "ERROR_NAMES",
    "BadSignature",
    "ContextMismatch",
    "ContextTooLong",
    "Expired",
    "InvalidKeyId",
    "InvalidPrivateKey",
    "InvalidPublicKey",
    "KeyIdMismatch",
    "KeyUsedError",
    "Malformed",
    "NotYetValid",
    "Ok2cryError",
    "OpenFailed",
    "PlaintextSize",
    "ProtocolError",
    "SealFailed",
    "UnknownSigningKey",
    "UnsupportedAlgorithm",
    "UnsupportedSuite",
    "UnsupportedVersion",
    "WrongTokenType",
]


class Ok2cryError(Exception):
    """The base of every error this package raises."""


class ProtocolError(Ok2cryError):
    """A refusal by the rules of docs/PROTOCOL.md; ``code`` is its §11 name."""

    code: ClassVar[str] = ""

    def __init__(self, detail: str) -> None:
        super().__init__(f"{self.code}: {detail}")
        self.detail = detail


# The names of PROTOCOL.md §11.1, in the order of its table (N818: the names are the spec's).
class Malformed(ProtocolError):  # noqa: N818
    """The input is not well formed (text, base64url, JSON, members, lengths)."""

    code = "Malformed"


class InvalidKeyId(ProtocolError):  # noqa: N818
    """A key id outside §2."""

    code = "InvalidKeyId"


class ContextTooLong(ProtocolError):  # noqa: N818
    """A context over 256 bytes."""

    code = "ContextTooLong"


class PlaintextSize(ProtocolError):  # noqa: N818
    """A plaintext that is empty or over 64 KiB."""

    code = "PlaintextSize"


class UnsupportedVersion(ProtocolError):  # noqa: N818
    """An envelope or token version other than 1."""

    code = "UnsupportedVersion"


class UnsupportedSuite(ProtocolError):  # noqa: N818
    """A token suite other than STRONG."""

    code = "UnsupportedSuite"


class InvalidPublicKey(ProtocolError):  # noqa: N818
    """Not a valid EC P-256 public key."""

    code = "InvalidPublicKey"


class InvalidPrivateKey(ProtocolError):  # noqa: N818
    """Not a P-256 scalar in [1, n) of exactly 32 bytes."""

    code = "InvalidPrivateKey"


class UnsupportedAlgorithm(ProtocolError):  # noqa: N818
    """A token ``alg`` other than ES256."""

    code = "UnsupportedAlgorithm"


class WrongTokenType(ProtocolError):  # noqa: N818
    """A token ``typ`` other than ok2cry-key+jwt."""

    code = "WrongTokenType"


class UnknownSigningKey(ProtocolError):  # noqa: N818
    """A token ``kid`` that names no usable key of the JWK set."""

    code = "UnknownSigningKey"


class BadSignature(ProtocolError):  # noqa: N818
    """The token signature does not verify."""

    code = "BadSignature"


class Expired(ProtocolError):  # noqa: N818
    """``now >= exp``."""

    code = "Expired"


class NotYetValid(ProtocolError):  # noqa: N818
    """``iat`` more than 60 s in the future."""

    code = "NotYetValid"


class KeyIdMismatch(ProtocolError):  # noqa: N818
    """The envelope is for another key id."""

    code = "KeyIdMismatch"


class ContextMismatch(ProtocolError):  # noqa: N818
    """The envelope names another context than the opener expects."""

    code = "ContextMismatch"


class OpenFailed(ProtocolError):  # noqa: N818
    """Decryption failed (deliberately without detail)."""

    code = "OpenFailed"


class SealFailed(ProtocolError):  # noqa: N818
    """The KEM refused the recipient key."""

    code = "SealFailed"


_ALL: tuple[type[ProtocolError], ...] = (
    Malformed,
    InvalidKeyId,
    ContextTooLong,
    PlaintextSize,
    UnsupportedVersion,
    UnsupportedSuite,
    InvalidPublicKey,
    InvalidPrivateKey,
    UnsupportedAlgorithm,
    WrongTokenType,
    UnknownSigningKey,
    BadSignature,
    Expired,
    NotYetValid,
    KeyIdMismatch,
    ContextMismatch,
    OpenFailed,
    SealFailed,
)

#: The §11.1 names, in the order of its table.
ERROR_NAMES: tuple[str, ...] = tuple(e.code for e in _ALL)

_BY_NAME: dict[str, type[ProtocolError]] = {e.code: e for e in _ALL}


def fail(code: str, detail: str) -> NoReturn:
    """Raises the refusal named ``code`` (§11) with ``detail``, which names a rule, never a secret."""
    raise _BY_NAME[code](detail)


class KeyUsedError(Ok2cryError):
    """A local key was asked to open a second envelope: it opens once, then it is destroyed."""

    def __init__(self) -> None:
        super().__init__("this local key has already opened an envelope and is destroyed: make a new one")
