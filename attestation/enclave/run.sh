#!/bin/sh
# Enclave entry point. The enclave has no network interface: only loopback and vsock.
#   parent TCP :443  --(socat on the parent)-->  vsock CID:5000
#   vsock :5000      --(socat here)---------->  127.0.0.1:8443 (ok2cry)
set -eu
ip link set lo up
socat VSOCK-LISTEN:5000,fork,reuseaddr TCP:127.0.0.1:8443 &
exec /usr/local/bin/ok2cry serve --listen 127.0.0.1:8443 "$@"
