#!/usr/bin/env bash
# Sets up a machine for the tests, the lab and the real-engine runs: Debian packages, npm packages, the
# Pulumi CLI and the kubernetes plugin (tools/engine), and a Kubernetes control plane (tools/kube), all
# built from pinned Go modules. Needs root (or sudo) on Debian/Ubuntu, Node.js >= 20 and Go >= 1.26.
# Idempotent: a second run installs nothing and rebuilds from Go's warm cache in about a minute.
#
#     bash tools/setup.sh && npm test
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== system packages"
APT_PACKAGES=(shellcheck wireguard-tools wireguard-go openssh-server openssh-client iproute2 iptables iputils-ping procps util-linux psmisc openssl sqlite3 curl systemd)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
shellcheck --version | sed -n 2p
wg --version

echo "== npm ci"
# npm 11 does not run dependencies' install scripts that package.json has not approved: the ones of
# @pulumi/command and @pulumi/kubernetes would call `pulumi plugin install`, a download. (On npm 10 they
# run, fail to download and exit 0.)
npm ci --no-audit --no-fund

echo "== Pulumi engine (CLI, kubernetes plugin)"
bash tools/engine/build.sh

echo "== control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok)"
bash tools/kube/build.sh
