"""pytest runs the package from src/ (pyproject.toml: pythonpath) and finds the shared modules of
this directory (conformance.py) as top-level modules."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))
