#!/usr/bin/env bash
# Runs both flows end to end with four separate processes on 127.0.0.1, all over HTTPS:
#   ok2cry (mTLS) <- card API -> fintech proxy <- end user
# then checks that the proxy's log holds no PIN and no card number.
# Usage: examples/demo.sh            (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/.."
# OK2CRY_DEMO_BIN: a directory with prebuilt binaries (the test suite passes its own).
if [ -n "${OK2CRY_DEMO_BIN:-}" ]; then
  bin=$OK2CRY_DEMO_BIN
else
  cargo build --quiet --examples --bin ok2cry
  bin=target/debug
fi
dir=$(mktemp -d)
# Stop the services and wait for them (the node writes its audit checkpoint as it stops)
# before removing their directory.
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
pki="$dir/pki"
"$bin/ok2cry" certs dev --dir "$pki" >/dev/null

"$bin/ok2cry" serve --dev --dev-dir "$pki" --listen 127.0.0.1:18443 >"$dir/ok2cry.log" 2>&1 &
"$bin/examples/card_api" --listen 127.0.0.1:19443 --ok2cry https://127.0.0.1:18443 --pki "$pki" >"$dir/card_api.log" 2>&1 &
"$bin/examples/proxy" --listen 127.0.0.1:19444 --upstream https://localhost:19443 --pki "$pki" >"$dir/proxy.log" 2>&1 &
for port in 18443 19443 19444; do
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
done

echo "== end user (PIN 1234, card 42)"
"$bin/examples/end_user" --proxy https://localhost:19444 --pki "$pki" --card 42 --pin 1234
sleep 0.3
echo; echo "== card API"; cat "$dir/card_api.log"
echo; echo "== fintech proxy: everything it forwarded"; cat "$dir/proxy.log"
echo
if grep -E '1234|4000 0000 0000 0042|4000000000000042' "$dir/proxy.log" >/dev/null; then
  echo "FAIL: the proxy saw a PIN or card number"; exit 1
fi
echo "OK: the proxy only ever held key tokens, public keys and ciphertext (no PIN, no card number in its log)"
