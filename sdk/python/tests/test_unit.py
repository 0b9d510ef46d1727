"""Unit tests of the package: the API around the rules (every refusal rule itself is a vector,
test_conformance.py)."""

from __future__ import annotations

import asyncio
import base64
import copy
import datetime
import json
import pathlib
import pickle
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import ok2cry
from conformance import load
from ok2cry import base64url
from ok2cry.strict_json import NOT_INTEGER, read_json

VECTORS = load("protocol-v1.json")
PYTHON = load("python-cryptography.json")
KT = VECTORS["key_token"]
N = int("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", 16)


def refuses(error: type[ok2cry.ProtocolError], f: Any, *args: Any, **kwargs: Any) -> ok2cry.ProtocolError:
    with pytest.raises(ok2cry.ProtocolError) as info:
        f(*args, **kwargs)
    assert type(info.value) is error, f"{type(info.value).__name__}: {info.value}, expected {error.__name__}"
    assert info.value.code == error.__name__
    return info.value


def test_info_is_the_bytes_of_protocol_3() -> None:
    assert ok2cry.info("n1_AAECAwQFBgcICQoLDA0ODw", "card:42/set-pin").hex() == (
        "6f6b326372792f763100"
        "6e315f41414543417751464267634943516f4c4441304f4477"
        "00"
        "636172643a34322f7365742d70696e"
    )
    assert ok2cry.info("k", "") == b"ok2cry/v1\x00k\x00"


def test_the_vector_key_token_verifies_and_its_fields_are_the_claims() -> None:
    jwks = ok2cry.Jwks.parse(json.dumps(KT["jwks"]))
    assert len(jwks) == len(KT["jwks"]["keys"])
    key = ok2cry.verify_key_token(f" \n{KT['token']}\r\n", jwks, now=KT["now"])
    claims = KT["claims"]
    assert isinstance(key, ok2cry.VerifiedKey)
    assert (key.key_id, key.context, key.issuer) == (claims["key_id"], claims.get("context", ""), claims["iss"])
    assert (key.issued_at, key.expires_at, key.max_opens) == (claims["iat"], claims["exp"], claims["max_opens"])
    assert key.signing_kid == KT["header"]["kid"]
    assert key.token == KT["token"]
    assert key.jwk["x"] == claims["jwk"]["x"]
    assert key.public_key.thumbprint == VECTORS["seal"][KT["seal_vector"]]["recipient_jwk_thumbprint"]
    # A parsed mapping and UTF-8 bytes are read by the same rules.
    ok2cry.verify_key_token(KT["token"], ok2cry.Jwks.parse(KT["jwks"]), now=KT["now"])
    ok2cry.verify_key_token(KT["token"], ok2cry.Jwks.parse(json.dumps(KT["jwks"]).encode()), now=KT["now"])


def test_a_token_is_valid_from_iat_minus_60_s_to_exp_minus_1_s() -> None:
    jwks = ok2cry.Jwks.parse(KT["jwks"])
    iat, exp = KT["claims"]["iat"], KT["claims"]["exp"]
    ok2cry.verify_key_token(KT["token"], jwks, now=iat - 60)
    ok2cry.verify_key_token(KT["token"], jwks, now=exp - 1)
    refuses(ok2cry.Expired, ok2cry.verify_key_token, KT["token"], jwks, now=exp)
    refuses(ok2cry.NotYetValid, ok2cry.verify_key_token, KT["token"], jwks, now=iat - 61)
    refuses(ok2cry.Expired, ok2cry.verify_key_token, KT["token"], jwks)  # the clock: long expired
    refuses(ok2cry.UnknownSigningKey, ok2cry.verify_key_token, KT["token"], ok2cry.Jwks.parse({"keys": []}), now=KT["now"])


def test_a_verified_key_is_made_only_by_verifying() -> None:
    with pytest.raises(TypeError):
        ok2cry.VerifiedKey(object(), key_id="x")
    real = ok2cry.verify_key_token(KT["token"], ok2cry.Jwks.parse(KT["jwks"]), now=KT["now"])
    with pytest.raises(AttributeError):
        real.key_id = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        ok2cry.seal({"key_id": real.key_id, "public_key": real.public_key}, b"1234")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pickle.dumps(real)


def test_seal_to_a_verified_token_and_the_recipient_opens_it() -> None:
    v = VECTORS["seal"][KT["seal_vector"]]
    key = ok2cry.verify_key_token(KT["token"], ok2cry.Jwks.parse(KT["jwks"]), now=KT["now"])
    envelope = ok2cry.seal(key, "1234")
    assert envelope.key_id == key.key_id
    assert envelope.context == (key.context or None)
    assert len(envelope.sealed) == 65 + 4 + 16
    recipient = ok2cry.PrivateKey.from_scalar(bytes.fromhex(v["skRm"]))
    assert recipient.open(envelope, key_id=key.key_id, context=key.context) == b"1234"
    e = refuses(ok2cry.OpenFailed, recipient.open_sealed, envelope.sealed, key_id=key.key_id, context="card:1/set-pin")
    assert str(e) == "OpenFailed: cannot open"


def test_plaintext_and_context_limits() -> None:
    recipient = ok2cry.PrivateKey.generate()
    refuses(ok2cry.PlaintextSize, ok2cry.seal_to, recipient.public_key, b"")
    refuses(ok2cry.PlaintextSize, ok2cry.seal_to, recipient.public_key, "")
    refuses(ok2cry.PlaintextSize, ok2cry.seal_to, recipient.public_key, bytes(65537))
    big = ok2cry.seal_to(recipient.public_key, bytes([7]) * 65536)
    assert len(big.sealed) == 65 + 65536 + 16
    assert len(recipient.open(ok2cry.Envelope.parse(big.to_compact()), key_id=recipient.public_key.thumbprint)) == 65536
    context = "é" * 128  # 256 bytes
    e = ok2cry.seal_to(recipient.public_key, "x", context=context)
    assert ok2cry.Envelope.from_compact(e.to_compact()).context == context
    refuses(ok2cry.ContextTooLong, ok2cry.seal_to, recipient.public_key, "x", context=context + "a")
    refuses(ok2cry.InvalidKeyId, ok2cry.seal_to, recipient.public_key, "x", key_id="a.b")


def test_an_envelope_converts_between_its_forms_without_loss() -> None:
    for v in VECTORS["seal"]:
        as_json = ok2cry.Envelope.from_json(v["envelope_json"])
        assert as_json.to_compact() == v["envelope_compact"]
        assert as_json.to_json() == v["envelope_json"]
        assert ok2cry.Envelope.parse(f" {v['envelope_compact']}\n") == as_json
        assert ok2cry.Envelope.parse(v["envelope_json"].encode()) == as_json
        assert as_json.sealed.hex() == v["sealed"]
        assert "sealed=<" in repr(as_json)
    v = VECTORS["seal"][0]
    none = ok2cry.Envelope(v["key_id"], bytes.fromhex(v["sealed"]), "")
    assert none.context is None
    assert "context" not in none.to_dict()
    assert len(none.to_compact().split(".")) == 3
    refuses(ok2cry.Malformed, ok2cry.Envelope, v["key_id"], bytes.fromhex(v["sealed"])[:81])
    refuses(ok2cry.InvalidKeyId, ok2cry.Envelope, "", bytes.fromhex(v["sealed"]))
    with pytest.raises(AttributeError):
        none.key_id = "x"  # type: ignore[misc]


def test_envelopes_sealed_by_python_cryptography_open() -> None:
    assert len(PYTHON["envelopes"]) >= 4
    for p in PYTHON["envelopes"]:
        v = VECTORS["seal"][p["seal_vector"]]
        key = ok2cry.PrivateKey.from_scalar(bytes.fromhex(v["skRm"]))
        envelope = ok2cry.Envelope.parse(json.dumps(p["envelope"]))
        assert key.open(envelope, key_id=v["key_id"], context=v["context"]).hex() == p["plaintext"]


def test_a_local_key_opens_once_then_it_is_gone() -> None:
    device = ok2cry.LocalKey.generate()
    jwk = device.public_jwk()
    assert jwk["kid"] == device.key_id == device.public_key.thumbprint
    assert jwk["use"] == "enc"
    assert len(device.key_id) == 43
    recipient = ok2cry.PublicKey.from_jwk(json.dumps(jwk))
    assert recipient.key_id == device.key_id
    envelope = ok2cry.seal_to(recipient, "4111111111111111", context="card:42/reveal")
    assert envelope.key_id == device.key_id
    refuses(ok2cry.Malformed, device.open, "v1.not-an-envelope")
    assert not device.destroyed
    assert device.open(envelope.to_compact(), context="card:42/reveal") == b"4111111111111111"
    assert device.destroyed
    with pytest.raises(ok2cry.KeyUsedError):
        device.open(envelope, context="card:42/reveal")


def test_a_local_key_is_gone_after_a_failed_open_too() -> None:
    device, other = ok2cry.LocalKey.generate(), ok2cry.LocalKey.generate()
    elsewhere = ok2cry.seal_to(other.public_key, "x")
    refuses(ok2cry.KeyIdMismatch, device.open, elsewhere)
    with pytest.raises(ok2cry.KeyUsedError):
        device.open(elsewhere)

    d2 = ok2cry.LocalKey.generate()
    named = ok2cry.seal_to(d2.public_key, "x", context="card:42/reveal")
    refuses(ok2cry.ContextMismatch, d2.open, named, context="card:1/reveal")

    d3 = ok2cry.LocalKey.generate()
    sealed = ok2cry.seal_to(d3.public_key, "x", context="card:42/reveal")
    refuses(ok2cry.OpenFailed, d3.open, ok2cry.Envelope(sealed.key_id, sealed.sealed), context="card:1/reveal")

    d4 = ok2cry.LocalKey.generate()
    ok = ok2cry.seal_to(d4.public_key, "x")
    tampered = bytearray(ok.sealed)
    tampered[-1] ^= 1
    e = refuses(ok2cry.OpenFailed, d4.open, ok2cry.Envelope(ok.key_id, bytes(tampered)))
    assert str(e) == "OpenFailed: cannot open"


def test_no_secret_in_a_serialized_form_a_repr_or_an_error() -> None:
    v = VECTORS["seal"][0]
    key = ok2cry.PrivateKey.from_scalar(bytes.fromhex(v["skRm"]))
    device = ok2cry.LocalKey.generate()
    for secret_holder in (key, device):
        with pytest.raises(TypeError):
            pickle.dumps(secret_holder)
        with pytest.raises(TypeError):
            copy.copy(secret_holder)
    assert v["skRm"] not in repr(key) and str(int(v["skRm"], 16)) not in repr(key)
    assert repr(device).startswith("LocalKey(key_id=")
    with pytest.raises(AttributeError):
        key.public_key = ok2cry.PrivateKey.generate().public_key  # type: ignore[misc]
    e = ok2cry.seal_to(device.public_key, "secret-pin-2468")
    refused = refuses(ok2cry.OpenFailed, device.open, e, context="other")
    assert "2468" not in str(refused)


def test_a_private_key_from_a_jwk_must_match_its_public_part() -> None:
    v = VECTORS["seal"][2]
    d = base64url.encode(bytes.fromhex(v["skRm"]))
    key = ok2cry.PrivateKey.from_jwk(json.dumps({**v["recipient_jwk"], "d": d}))
    assert key.public_key.thumbprint == v["recipient_jwk_thumbprint"]
    refuses(ok2cry.InvalidPrivateKey, ok2cry.PrivateKey.from_jwk, {**VECTORS["seal"][0]["recipient_jwk"], "d": d})
    refuses(ok2cry.Malformed, ok2cry.PrivateKey.from_jwk, {**v["recipient_jwk"], "d": 1})
    refuses(ok2cry.Malformed, ok2cry.PrivateKey.from_jwk, dict(v["recipient_jwk"]))
    refuses(ok2cry.InvalidPrivateKey, ok2cry.PrivateKey.from_jwk, {**v["recipient_jwk"], "d": d + "="})
    refuses(ok2cry.InvalidPrivateKey, ok2cry.PrivateKey.from_scalar, bytes(31))
    refuses(ok2cry.InvalidPrivateKey, ok2cry.PrivateKey.from_scalar, bytes(32))
    refuses(ok2cry.InvalidPrivateKey, ok2cry.PrivateKey.from_scalar, N.to_bytes(32, "big"))
    ok2cry.PrivateKey.from_scalar((N - 1).to_bytes(32, "big"))


def test_an_end_users_jwk_is_read_strictly() -> None:
    jwk = VECTORS["seal"][0]["recipient_jwk"]
    key = ok2cry.PublicKey.from_jwk(
        json.dumps({**jwk, "kid": "ignored", "use": "enc", "ext": True, "key_ops": []})
    )
    assert key.key_id == VECTORS["seal"][0]["recipient_jwk_thumbprint"]
    assert key == ok2cry.PublicKey.from_jwk(jwk)
    refuses(ok2cry.Malformed, ok2cry.PublicKey.from_jwk, {**jwk, "extra": 1})
    refuses(ok2cry.Malformed, ok2cry.PublicKey.from_jwk, {**jwk, "kid": None})
    refuses(ok2cry.Malformed, ok2cry.PublicKey.from_jwk, {**jwk, "ext": 1})
    refuses(
        ok2cry.Malformed,
        ok2cry.PublicKey.from_jwk,
        '{"kty":"EC","kty":"EC","crv":"P-256","x":"%s","y":"%s"}' % (jwk["x"], jwk["y"]),
    )
    refuses(ok2cry.InvalidPublicKey, ok2cry.PublicKey.from_jwk, {**jwk, "d": None})
    refuses(ok2cry.InvalidPublicKey, ok2cry.PublicKey.from_jwk, {**jwk, "crv": "P-384"})
    refuses(ok2cry.InvalidPublicKey, ok2cry.PublicKey.from_jwk, {**jwk, "x": jwk["x"] + "="})
    refuses(ok2cry.InvalidPublicKey, ok2cry.PublicKey.from_jwk, {**jwk, "y": VECTORS["seal"][1]["recipient_jwk"]["y"]})


def test_strict_json() -> None:
    v = json.loads(VECTORS["seal"][0]["envelope_json"])
    body = f'"key_id":"{v["key_id"]}","sealed":"{v["sealed"]}","context":"{v["context"]}"'
    ok2cry.Envelope.from_json('{"version":1,%s}' % body)
    ok2cry.Envelope.from_json(('{"version":1,%s}' % body).encode())
    cases = {
        '{"version":1,"version":1,%s}': ok2cry.Malformed,
        '{"version":1,"\\u0076ersion":1,%s}': ok2cry.Malformed,
        '{"version":1.0,%s}': ok2cry.Malformed,
        '{"version":-0,%s}': ok2cry.Malformed,
        '{"version":true,%s}': ok2cry.Malformed,
        '{"version":2,%s}': ok2cry.UnsupportedVersion,
        '{"version":9007199254740991,%s}': ok2cry.UnsupportedVersion,
        '{"version":9007199254740992,%s}': ok2cry.Malformed,
        '\ufeff{"version":1,%s}': ok2cry.Malformed,
        '{"version":1,%s,"context":"\\ud800"}': ok2cry.Malformed,
        '{"version":1,%s} x': ok2cry.Malformed,
        '{"version":1,%s,}': ok2cry.Malformed,
        '{"version":NaN,%s}': ok2cry.Malformed,
        '{"version":1,%s,"x":"a\tb"}': ok2cry.Malformed,
    }
    for text, error in cases.items():
        refuses(error, ok2cry.Envelope.from_json, text % body)
    refuses(ok2cry.Malformed, ok2cry.Envelope.from_json, b"\xef\xbb\xbf" + ('{"version":1,%s}' % body).encode())
    refuses(ok2cry.Malformed, ok2cry.Envelope.from_json, ('{"version":1,%s,"x":"' % body).encode() + b'\xff"}')
    assert read_json("[1, 1.0, 1e3, -1, 9007199254740991, 9007199254740992]", "t") == [
        1, NOT_INTEGER, NOT_INTEGER, NOT_INTEGER, 2**53 - 1, NOT_INTEGER,
    ]
    assert read_json("[true]", "t") == [True]

    def nest(n: int) -> str:
        return "[" * n + "]" * n

    at32 = refuses(ok2cry.Malformed, ok2cry.Envelope.from_json, '{"version":1,%s,"x":%s}' % (body, nest(31)))
    assert "members" in str(at32)
    at33 = refuses(ok2cry.Malformed, ok2cry.Envelope.from_json, '{"version":1,%s,"x":%s}' % (body, nest(32)))
    assert "deep" in str(at33)
    refuses(ok2cry.Malformed, ok2cry.Envelope.from_json, '{"version":1,%s,"x":%s}' % (body, nest(100000)))


def test_strict_base64url() -> None:
    assert base64url.decode("") == b""
    for n in range(0, 40):
        data = bytes(range(n))
        assert base64url.decode(base64url.encode(data)) == data
    assert base64url.encode(b"\xfb\xff") == "-_8"
    for bad in ["-_8=", "+/8", "-_9", "A", "AB\nCD", " AB", "AB==", "QQ=", "Zg==", "Zh"]:
        assert base64url.decode(bad) is None, bad
    assert base64.urlsafe_b64decode("Zh==") == b"f", "the standard library alone is lenient"


def test_compact_versions_and_whitespace() -> None:
    v = VECTORS["seal"][0]
    rest = v["envelope_compact"][3:]
    ok2cry.Envelope.from_compact(f" \t\r\n{v['envelope_compact']} \t\r\n")
    refuses(ok2cry.Malformed, ok2cry.Envelope.from_compact, f"\f{v['envelope_compact']}")
    refuses(ok2cry.Malformed, ok2cry.Envelope.from_compact, f"{v['envelope_compact']}\u00a0")
    refuses(ok2cry.UnsupportedVersion, ok2cry.Envelope.from_compact, f"v2.{rest}.x.y.z")
    refuses(ok2cry.UnsupportedVersion, ok2cry.Envelope.from_compact, f"v0.{rest}")
    refuses(ok2cry.Malformed, ok2cry.Envelope.from_compact, f"v9007199254740992.{rest}")
    for bad in ["V1", "v01", "v", "1", "v1x", "", "v١"]:
        refuses(ok2cry.Malformed, ok2cry.Envelope.from_compact, f"{bad}.{rest}")
    refuses(ok2cry.Malformed, ok2cry.Envelope.from_compact, f"{v['envelope_compact']}.x")


def test_the_headers_on_dicts_and_httpx_headers() -> None:
    assert ok2cry.KEY_TOKEN_HEADER == "Ok2cry-Key"
    assert ok2cry.ENVELOPE_HEADER == "Ok2cry-Envelope"
    v = VECTORS["seal"][0]
    envelope = ok2cry.Envelope.from_json(v["envelope_json"])
    headers = httpx.Headers()
    ok2cry.write_envelope_header(headers, envelope)
    assert headers["ok2cry-envelope"] == v["envelope_compact"]
    assert ok2cry.read_envelope_header(headers) == envelope
    ok2cry.write_key_token_header(headers, KT["token"] + "\n")
    assert ok2cry.read_key_token_header(headers) == KT["token"]
    plain = {"ok2cry-envelope": v["envelope_compact"], "OK2CRY-KEY": KT["token"]}
    assert ok2cry.read_envelope_header(plain) == envelope
    assert ok2cry.read_key_token_header(plain) == KT["token"]
    out = {"OK2CRY-ENVELOPE": "old"}
    ok2cry.write_envelope_header(out, envelope)
    assert out == {"Ok2cry-Envelope": v["envelope_compact"]}
    assert ok2cry.read_envelope_header({}) is None
    assert ok2cry.read_key_token_header(httpx.Headers()) is None
    two = httpx.Headers([("Ok2cry-Envelope", v["envelope_compact"]), ("Ok2cry-Envelope", v["envelope_compact"])])
    refuses(ok2cry.Malformed, ok2cry.read_envelope_header, two)
    refuses(ok2cry.Malformed, ok2cry.write_key_token_header, {}, "a b.c.d")


def test_every_error_name_of_11_is_a_class() -> None:
    assert ok2cry.ERROR_NAMES == (
        "Malformed", "InvalidKeyId", "ContextTooLong", "PlaintextSize", "UnsupportedVersion", "UnsupportedSuite",
        "InvalidPublicKey", "InvalidPrivateKey", "UnsupportedAlgorithm", "WrongTokenType", "UnknownSigningKey",
        "BadSignature", "Expired", "NotYetValid", "KeyIdMismatch", "ContextMismatch", "OpenFailed", "SealFailed",
    )
    for name in ok2cry.ERROR_NAMES:
        cls = getattr(ok2cry, name)
        assert issubclass(cls, ok2cry.ProtocolError) and issubclass(cls, ok2cry.Ok2cryError)
        assert cls.__name__ == cls.code == name
    assert ok2cry.is_key_id("n1_AAECAwQFBgcICQoLDA0ODw")
    assert not ok2cry.is_key_id("a.b") and not ok2cry.is_key_id("x" * 129) and not ok2cry.is_key_id("é")


def _self_signed(tmp_path: pathlib.Path) -> dict[str, pathlib.Path]:
    """A throwaway certificate and key, for a client that never reaches a server."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "unit-test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    pem = tmp_path / "cert.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return {"ca": pem, "cert": pem, "key": key_file}


def test_the_client_takes_only_https_urls_and_checks_key_ids(tmp_path: pathlib.Path) -> None:
    files = _self_signed(tmp_path)
    with pytest.raises(ValueError, match="only https"):
        ok2cry.Client("http://localhost:1", **files)
    with pytest.raises(ValueError, match="query or fragment"):
        ok2cry.Client("https://localhost:1/?a=b", **files)
    # Port 9 on loopback: nothing listens, no traffic leaves the machine.
    with ok2cry.Client("https://127.0.0.1:9", timeout=2, **files) as client:
        refuses(ok2cry.InvalidKeyId, client.get_key, "a/b")
        refuses(ok2cry.InvalidKeyId, client.open, "a.b", "v1.x.y")
        with pytest.raises(ok2cry.TransportError):
            client.jwks()


def test_the_async_client_fails_the_same_way(tmp_path: pathlib.Path) -> None:
    files = _self_signed(tmp_path)

    async def run() -> None:
        async with ok2cry.AsyncClient("https://127.0.0.1:9", timeout=2, **files) as client:
            with pytest.raises(ok2cry.InvalidKeyId):
                await client.delete_key("a b")
            with pytest.raises(ok2cry.TransportError):
                await client.create_key(ttl_seconds=60)

    asyncio.run(run())
