"""Public keys as JWKs (docs/PROTOCOL.md §7.3): the ``jwk`` claim of a key token and an end
user's own key (§8).

Point validation is pyca ``cryptography``'s (``EllipticCurvePublicNumbers.public_key`` refuses a
point off the curve); the RFC 7638 thumbprint is SHA-256 (:mod:`hashlib`) over the JWK's
required members as RFC 7638 §3 orders them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Union

from cryptography.hazmat.primitives.asymmetric import ec

from . import base64url
from .errors import fail
from .strict_json import read_json

__all__ = ["JsonInput", "PublicJwk", "PublicKey", "thumbprint"]

#: JSON handed over by an application: text, its UTF-8 bytes, or a parsed mapping.
JsonInput = Union[str, bytes, Mapping[str, Any]]

#: An EC P-256 public key as a JWK: kty, crv, x, y.
PublicJwk = Mapping[str, str]

_JWK_MEMBERS = frozenset({"kty", "crv", "x", "y", "kid", "use", "alg", "ext", "key_ops", "d"})


def read_json_input(value: JsonInput, what: str) -> Any:
    """Reads JSON input of any accepted kind by §10.1 (a mapping is read through its text)."""
    if isinstance(value, (str, bytes)):
        return read_json(value, what)
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        fail("Malformed", f"{what}: not JSON")
    return read_json(text, what)


@dataclass(frozen=True)
class JwkShape:
    """The members of a JWK as §7.3 reads its shape; values are checked on use."""

    kty: str
    crv: str
    x: str
    y: str
    kid: str | None
    use: str | None
    alg: str | None
    private_part: bool


def _optional_string(members: Mapping[str, Any], name: str, what: str) -> str | None:
    if name not in members:
        return None
    value = members[name]
    if type(value) is not str:
        fail("Malformed", f"{what}: {name}")
    return value


def read_jwk_shape(value: Any, what: str) -> JwkShape:
    """§7.3, the shape (``Malformed``): only kty, crv, x, y (required strings), kid, use, alg
    (strings), ext (boolean), key_ops (array of strings) and d (any value: a private key)."""
    if not isinstance(value, dict) or not set(value) <= _JWK_MEMBERS:
        fail("Malformed", f"{what}: members")
    required = {}
    for name in ("kty", "crv", "x", "y"):
        v = value.get(name)
        if type(v) is not str:
            fail("Malformed", f"{what}: {name}")
        required[name] = v
    shape = JwkShape(
        kty=required["kty"],
        crv=required["crv"],
        x=required["x"],
        y=required["y"],
        kid=_optional_string(value, "kid", what),
        use=_optional_string(value, "use", what),
        alg=_optional_string(value, "alg", what),
        private_part="d" in value,
    )
    if "ext" in value and type(value["ext"]) is not bool:
        fail("Malformed", f"{what}: ext")
    if "key_ops" in value:
        ops = value["key_ops"]
        if not isinstance(ops, list) or not all(type(op) is str for op in ops):
            fail("Malformed", f"{what}: key_ops")
    return shape


def thumbprint(jwk: PublicJwk) -> str:
    """The RFC 7638 thumbprint (SHA-256, base64url) of an EC public JWK."""
    canonical = json.dumps(
        {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"], "y": jwk["y"]},
        separators=(",", ":"),
    )
    return base64url.encode(hashlib.sha256(canonical.encode("utf-8")).digest())


class PublicKey:
    """A validated EC P-256 public key: the recipient of a sealed message."""

    __slots__ = ("_key", "jwk", "thumbprint")

    jwk: PublicJwk
    """The key as a JWK (kty, crv, x, y)."""
    thumbprint: str
    """The RFC 7638 thumbprint: the key id of an end user's local key (§8)."""
    _key: ec.EllipticCurvePublicKey

    def __init__(self, key: ec.EllipticCurvePublicKey) -> None:
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
            raise TypeError("a P-256 public key")
        numbers = key.public_numbers()
        jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": base64url.encode(numbers.x.to_bytes(32, "big")),
            "y": base64url.encode(numbers.y.to_bytes(32, "big")),
        }
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "jwk", MappingProxyType(jwk))
        object.__setattr__(self, "thumbprint", thumbprint(jwk))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("a PublicKey cannot be changed")

    @classmethod
    def from_jwk(cls, jwk: JsonInput) -> PublicKey:
        """An end user's public key sent as a JWK (§8), read strictly: other members than those of
        §7.3 are ``Malformed``; a private part, another key type or curve, bad coordinates or a
        point off the curve are ``InvalidPublicKey``. A ``kid`` is ignored (the key id is the
        thumbprint)."""
        shape = read_jwk_shape(read_json_input(jwk, "JWK"), "JWK")
        return cls.from_shape(shape, "InvalidPublicKey")

    @classmethod
    def from_shape(cls, shape: JwkShape, error: str) -> PublicKey:
        """§7.3, the values: kty EC, crv P-256, no d, x and y base64url of 32 bytes each, a point on
        the curve — else the refusal ``error``."""
        if shape.kty != "EC" or shape.crv != "P-256":
            fail(error, "not an EC P-256 key")
        if shape.private_part:
            fail(error, "a private key (member d)")
        x = base64url.decode(shape.x)
        y = base64url.decode(shape.y)
        if x is None or y is None or len(x) != 32 or len(y) != 32:
            fail(error, "coordinates are not 32 bytes of base64url each")
        try:
            key = ec.EllipticCurvePublicNumbers(
                int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
            ).public_key()
        except ValueError:
            fail(error, "not a point on P-256")
        return cls(key)

    @property
    def key_id(self) -> str:
        """The key id of an end user's local key: the thumbprint (§8)."""
        return self.thumbprint

    def cryptography_key(self) -> ec.EllipticCurvePublicKey:
        """The key as pyca ``cryptography`` holds it."""
        return self._key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and other.jwk == self.jwk

    def __hash__(self) -> int:
        return hash(self.thumbprint)

    def __repr__(self) -> str:
        return f"PublicKey(thumbprint={self.thumbprint!r})"
