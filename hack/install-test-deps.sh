#!/usr/bin/env bash
# Installs what the tests need and the machine lacks, from Debian packages:
# etcd (the e2e tests run Debian's etcd as an external cluster).
set -euo pipefail

need=()
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "missing test dependencies: ${need[*]}; install them (Debian: apt-get install ${need[*]})" >&2
  exit 1
fi
echo "installing test dependencies: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
