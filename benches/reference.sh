#!/usr/bin/env bash
# The reference lines of docs/PERFORMANCE.md, to run in the same session as the Rust benches:
# OpenSSL's own P-256 figures (`openssl speed ecdhp256 ecdsap256`, one core) and Python
# `cryptography`'s HPKE seal/open (benches/python_hpke.py).
#
#   benches/reference.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-3}"

echo "== machine"
nproc
grep -m1 "model name" /proc/cpuinfo || true

echo "== openssl speed -seconds $seconds ecdhp256 ecdsap256"
openssl version
openssl speed -seconds "$seconds" ecdhp256 ecdsap256 2>/dev/null | tail -n 6

echo "== Python cryptography HPKE (benches/python_hpke.py)"
if ! python3 -c "from cryptography.hazmat.primitives.hpke import Suite" 2>/dev/null; then
  python3 -m pip install --quiet "cryptography>=47"
fi
python3 benches/python_hpke.py "$seconds"
