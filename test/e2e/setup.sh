#!/usr/bin/env bash
# Installs the real servers (and the C toolchain for the renegotiating client) the end-to-end tests
# drive, from Debian's packages, when missing.
# Idempotent: a machine that already has them installs nothing.
set -euo pipefail
need=()
command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
command -v haproxy >/dev/null 2>&1 || need+=(haproxy)
{ command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; } || need+=(prometheus)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v caddy >/dev/null 2>&1 || need+=(caddy)
# The renegotiating TLS client of renegotiation.test.ts is C against OpenSSL, compiled by the test.
command -v gcc >/dev/null 2>&1 || need+=(gcc)
[ -f /usr/include/openssl/ssl.h ] || need+=(libssl-dev)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test/e2e/setup.sh: missing ${need[*]}; install them (apt-get install ${need[*]}) or run as root." >&2
    exit 1
  fi
  echo "test/e2e/setup.sh: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The packages' own services are left alone: each test starts its own server on a loopback port it
# chooses and stops it by pid.
echo "test/e2e/setup.sh: nginx $(nginx -v 2>&1 | sed 's/.*\///'), haproxy $(haproxy -v | head -1 | awk '{print $3}'), prometheus $(prometheus --version 2>&1 | head -1 | awk '{print $3}')"
