"""The package is typed (py.typed): mypy --strict accepts it, and a consumer using its API."""

from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]

CONSUMER = '''
import ok2cry

def use(token: str, jwks_text: str, envelope_text: str) -> bytes:
    key: ok2cry.VerifiedKey = ok2cry.verify_key_token(token, ok2cry.Jwks.parse(jwks_text))
    envelope: ok2cry.Envelope = ok2cry.seal(key, b"1234")
    device = ok2cry.LocalKey.generate()
    try:
        return device.open(envelope_text, context="card:42/reveal")
    except ok2cry.OpenFailed as e:
        assert e.code == "OpenFailed"
        raise
    finally:
        print(envelope.to_compact())
'''


def test_mypy_strict_accepts_the_package_and_a_consumer(tmp_path: pathlib.Path) -> None:
    consumer = tmp_path / "consumer.py"
    consumer.write_text(CONSUMER)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(ROOT / ".mypy_cache"), str(ROOT / "src" / "ok2cry"), str(consumer)],
        cwd=ROOT,
        env={"MYPYPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
