#!/usr/bin/env bash
# The Redis peer of the TTL bench (issue #8): installs Debian's redis-server if it is missing,
# then runs benches/ttl.rs with `--peer redis`, which starts its own redis-server on a free
# 127.0.0.1 port (persistence off) and kills it at the end.
#
#   scripts/redis-peer.sh --install-only                    # just make sure redis-server is there
#   scripts/redis-peer.sh --keys 100000                      # ok2cry vs Redis (hz 10), 100k keys
#   scripts/redis-peer.sh --keys 1000000 --ttl-ms 200000 --redis-hz 10,100
#
# Any argument other than --install-only is passed to the bench.
set -euo pipefail

if ! command -v redis-server >/dev/null 2>&1; then
    echo "redis-server not found: installing Debian's redis-server" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "run as root (or install redis-server yourself: apt-get install -y redis-server)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends redis-server >/dev/null
    # The package starts a system redis on 6379 where an init system runs; the bench does not
    # use it (it starts its own on a free port), so stop it where it is running.
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
        systemctl stop redis-server || true
    fi
fi
redis-server --version >&2

if [ "${1:-}" = "--install-only" ]; then
    exit 0
fi
cd "$(dirname "$0")/.."
exec cargo bench --bench ttl --features redis-peer -- --peer redis "$@"
