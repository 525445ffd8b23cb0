#!/usr/bin/env bash
# Installs what the tests need and the machine lacks, from Debian packages:
# etcd (the e2e tests run Debian's etcd as an external cluster); containerd
# and runc (the containerd driver's tests start a private containerd);
# busybox-static (the tests build their container image from it); the CNI
# plugins and iptables (bridge networking); chromium (the web UI's browser
# tests drive it headless); prometheus (promtool checks the alert rules,
# and an e2e test lets a real Prometheus scrape a dev agent).
set -euo pipefail

need=()
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v containerd >/dev/null 2>&1 || need+=(containerd)
command -v runc >/dev/null 2>&1 || need+=(runc)
[ -x /bin/busybox ] || need+=(busybox-static)
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
command -v chromium >/dev/null 2>&1 || need+=(chromium fonts-dejavu-core)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)

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
# Where systemd runs, Debian starts the prometheus service it installs; the
# tests start their own Prometheus on private ports, so stop that one.
if [[ " ${need[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
