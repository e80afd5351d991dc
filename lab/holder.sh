#!/usr/bin/env bash
# First process of one lab host: runs inside the host's network namespace, in a fresh private mount and UTS
# namespace (started by lab.ts through `ip netns exec <ns> unshare --mount --uts --propagation private`).
# It gives the host its own writable /etc, /var/lib and /usr/local (overlays whose upper layers live in the
# host's state dir), its own /run and /tmp, and its hostname; then it sleeps so the namespaces stay alive
# for sshd and everything the host steps start (wireguard-go). Nothing here is visible outside the host.
set -euo pipefail

host="$1"
dir="$2"

[ -d "$dir" ] || { echo "holder: state dir $dir is missing" >&2; exit 1; }

# Mounts must not leak back into the machine's namespace, whatever unshare's defaults are.
mount --make-rprivate /

hostname "$host"

overlay() {
  local target="$1" key="$2"
  mkdir -p "$dir/$key.upper" "$dir/$key.work"
  mount -t overlay "hil-$host-$key" -o "lowerdir=$target,upperdir=$dir/$key.upper,workdir=$dir/$key.work" "$target"
}
# Copy-on-write views: the host sees the machine's installed packages, but its own writes (e.g.
# /etc/wireguard, /etc/rancher, /etc/sysctl.d, /var/lib/hybridinfra) land only in its state dir.
overlay /etc etc
overlay /var/lib varlib
overlay /usr/local usrlocal

# A private /run: wg-quick's userspace sockets (/run/wireguard), sshd's pid file and privilege
# separation dir. Without systemd's /run/systemd/system, host steps see "no init system", as in a container.
mount -t tmpfs -o mode=0755,size=64m "hil-$host-run" /run
mkdir -p /run/sshd /run/lock /run/wireguard
chmod 0755 /run/sshd

mkdir -p "$dir/tmp"
chmod 1777 "$dir/tmp"
mount --bind "$dir/tmp" /tmp

printf '%s\n' "$$" >"$dir/holder.pid.tmp"
mv -f "$dir/holder.pid.tmp" "$dir/holder.pid"
exec sleep infinity
