"""Seals to the recipients of tests/vectors/protocol-v1.json with Python `cryptography`
(an RFC 9180 implementation we did not write) and prints tests/vectors/python-cryptography.json,
which client/tests/project_vectors.rs opens with the Rust client.

    python3 tests/vectors/python_seal.py > tests/vectors/python-cryptography.json

Needs cryptography >= 47 (the `hpke` module with KEM.P256 and AEAD.AES_256_GCM).
Only the public JWK, key id and context of each vector are used, as a real sender would.
"""
import base64
import json
import pathlib
import re

import cryptography
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite


def b64u_decode(text):
    # docs/PROTOCOL.md §4.1: the 64 characters only, no padding, unused bits zero.
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64u(data) != text:
        raise ValueError("not canonical base64url")
    return data


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


here = pathlib.Path(__file__).parent
vectors = json.loads((here / "protocol-v1.json").read_text())
suite = Suite(KEM.P256, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
out = []
for index, v in enumerate(vectors["seal"]):
    jwk = v["recipient_jwk"]
    public_key = ec.EllipticCurvePublicNumbers(
        int.from_bytes(b64u_decode(jwk["x"]), "big"),
        int.from_bytes(b64u_decode(jwk["y"]), "big"),
        ec.SECP256R1(),
    ).public_key()
    key_id, context = v["key_id"], v["context"]
    info = b"ok2cry/v1\x00" + key_id.encode() + b"\x00" + context.encode()
    plaintext = ("sealed by Python cryptography to vector %d" % index).encode()
    sealed = suite.encrypt(plaintext, public_key, info=info)  # enc || ct, empty AAD
    envelope = {"version": 1, "key_id": key_id, "sealed": b64u(sealed)}
    if context:
        envelope["context"] = context
    out.append({"seal_vector": index, "plaintext": plaintext.hex(), "envelope": envelope})
print(json.dumps({
    "description": "Envelopes sealed by Python cryptography's HPKE to the recipients of protocol-v1.json; the Rust client must open each.",
    "producer": "cryptography %s, tests/vectors/python_seal.py" % cryptography.__version__,
    "envelopes": out,
}, indent=2))
