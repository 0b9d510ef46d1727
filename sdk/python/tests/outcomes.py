"""Prints the outcome of every vector case (see conformance.py) as one line of JSON, for the
cross-implementation check in tests/sdk.rs:  python tests/outcomes.py"""

from __future__ import annotations

import json
import pathlib
import sys

sys.path[:0] = [str(pathlib.Path(__file__).parent), str(pathlib.Path(__file__).parents[1] / "src")]

from conformance import load, run_conformance  # noqa: E402

outcomes, _expected, counts = run_conformance(load("protocol-v1.json"))
print(json.dumps({"runtime": "python", "counts": counts, "outcomes": outcomes}))
