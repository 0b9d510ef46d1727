"""The packaged artifacts: a wheel built from this directory, and ``pip install`` of the directory
itself, each install into a fresh, empty venv and work there — the conformance suite passes
against the installed copy, which ships ``py.typed``.

Offline: the dependencies (and flit_core, the build backend) come from the wheelhouse that
scripts/test-deps downloads, hash-checked, from requirements-test.txt into .venv/wheelhouse.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import venv
import zipfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
WHEELHOUSE = ROOT / ".venv" / "wheelhouse"

SMOKE = """
import json, pathlib, sys
import ok2cry
sys.path.insert(0, {tests!r})
from conformance import load, run_conformance
outcomes, expected, counts = run_conformance(load("protocol-v1.json"))
device = ok2cry.LocalKey.generate()
envelope = ok2cry.seal_to(ok2cry.PublicKey.from_jwk(json.dumps(device.public_jwk())), "smoke")
print(json.dumps({{
    "failures": [n for n in expected if outcomes[n] != expected[n]],
    "counts": counts,
    "opened": device.open(envelope.to_compact()).decode(),
    "file": ok2cry.__file__,
    "typed": (pathlib.Path(ok2cry.__file__).parent / "py.typed").exists(),
}}))
"""


def run(*args: str | pathlib.Path, cwd: pathlib.Path) -> str:
    result = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, f"{args}: {result.stdout}{result.stderr}"
    return result.stdout


def fresh_venv(path: pathlib.Path) -> pathlib.Path:
    # An empty venv: not even pip (installing pip into it would take longer than the test).
    venv.create(path, with_pip=False)
    return path / "bin" / "python"


def pip_offline(python: pathlib.Path, target: str | pathlib.Path, cwd: pathlib.Path) -> None:
    """``pip install`` into the venv of ``python`` (pip's --python: this venv's pip, run for it)."""
    assert WHEELHOUSE.is_dir(), f"no wheelhouse at {WHEELHOUSE}: run scripts/test-deps"
    run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-index", "--find-links", WHEELHOUSE,
        target, cwd=cwd)


def smoke(python: pathlib.Path, venv_dir: pathlib.Path, cwd: pathlib.Path) -> None:
    out = json.loads(run(python, "-c", SMOKE.format(tests=str(TESTS)), cwd=cwd))
    assert out["failures"] == []
    assert out["counts"]["must_fail"] >= 144
    assert out["opened"] == "smoke"
    assert out["typed"]
    assert pathlib.Path(out["file"]).is_relative_to(venv_dir), out["file"]


def test_the_wheel_installs_into_an_empty_venv_and_works(tmp_path: pathlib.Path) -> None:
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", dist, ROOT, cwd=tmp_path)
    (wheel,) = dist.glob("ok2cry-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "ok2cry/py.typed" in names and "ok2cry/__init__.py" in names
    assert not [n for n in names if n.startswith("tests/") or "/tests/" in n], names
    app = tmp_path / "app"
    app.mkdir()
    python = fresh_venv(tmp_path / "venv")
    pip_offline(python, wheel, app)
    smoke(python, tmp_path / "venv", app)


def test_pip_install_of_the_source_directory_works_in_a_fresh_venv(tmp_path: pathlib.Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    python = fresh_venv(tmp_path / "venv")
    pip_offline(python, ROOT, app)  # builds in isolation with flit_core from the wheelhouse
    smoke(python, tmp_path / "venv", app)
