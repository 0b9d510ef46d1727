"""Reference line for HPKE seal/open: Python `cryptography` (OpenSSL's HPKE), the same suite
and message as `cargo bench --bench crypto` (`provider/*/seal_16B`, `open_16B`): DHKEM(P-256),
HKDF-SHA256, AES-256-GCM, base mode, an ok2cry `info`, empty AAD, 16-byte plaintext.

    python3 benches/python_hpke.py [seconds]

Prints operations per second and microseconds per operation, one core. Needs cryptography
>= 47 (the `hpke` module); benches/reference.sh installs it when missing.
"""
import sys
import time

import cryptography
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
suite = Suite(KEM.P256, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
private_key = ec.generate_private_key(ec.SECP256R1())
public_key = private_key.public_key()
info = b"ok2cry/v1\x00n1_benchmarkkey\x00"
plaintext = b"4111111111111111"


def rate(name, operation):
    operation()  # warm up
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            operation()
        n += 100
    elapsed = time.perf_counter() - start
    print("python-cryptography %-6s %8.0f ops/s  %7.1f us/op" % (name, n / elapsed, 1e6 * elapsed / n))


sealed = suite.encrypt(plaintext, public_key, info=info)
assert suite.decrypt(sealed, private_key, info=info) == plaintext
print("cryptography %s" % cryptography.__version__)
rate("seal", lambda: suite.encrypt(plaintext, public_key, info=info))
rate("open", lambda: suite.decrypt(sealed, private_key, info=info))
