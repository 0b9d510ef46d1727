"""The conformance suite under pytest: every case of tests/vectors/protocol-v1.json is one test,
passing only with the outcome the file names (docs/PROTOCOL.md §12)."""

from __future__ import annotations

import pytest

from conformance import load, run_conformance

FILE = load("protocol-v1.json")
OUTCOMES, EXPECTED, COUNTS = run_conformance(FILE)


def test_every_case_of_the_vector_file_is_run() -> None:
    assert COUNTS == {
        "seal": len(FILE["seal"]),
        "key_token": 1,
        "must_pass": len(FILE["must_pass"]),
        "must_fail": len(FILE["must_fail"]),
    }
    assert len(FILE["must_fail"]) >= 144 and len(FILE["must_pass"]) >= 20
    assert len(OUTCOMES) == 1 + len(FILE["seal"]) + len(FILE["must_pass"]) + len(FILE["must_fail"])


@pytest.mark.parametrize("name", list(EXPECTED))
def test_case(name: str) -> None:
    assert OUTCOMES[name] == EXPECTED[name]
