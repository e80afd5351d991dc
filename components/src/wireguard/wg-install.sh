# --- bash of the WireGuard wg-install step (rendered by scripts.ts; templates: see ../host/shellTemplate.ts) ---
# A body runs after the host prelude (components/src/host/prelude.sh): hi_* functions, HI_PKG, HI_INIT.

# @template install
WG_IF={{interface}}
hi_wg_kernel_ok() {
  [ -d /sys/module/wireguard ] && return 0
  modprobe wireguard >/dev/null 2>&1 && return 0
  if ip link add dev hi-wgprobe0 type wireguard >/dev/null 2>&1; then
    ip link del dev hi-wgprobe0 >/dev/null 2>&1 || true
    return 0
  fi
  return 1
}
# BusyBox ip cannot create WireGuard links; wg-quick needs the iproute2 one.
if [ "$HI_PKG" = apk ] && ! ip -V 2>&1 | grep -q iproute2; then
  hi_pkg_install iproute2
fi
hi_ensure_cmd ip iproute2 iproute iproute2
hi_ensure_cmd wg wireguard-tools wireguard-tools wireguard-tools
hi_ensure_cmd wg-quick wireguard-tools wireguard-tools wireguard-tools
# @insert firewall-tools
if ip link show dev "$WG_IF" >/dev/null 2>&1; then
  hi_log "$WG_IF exists: WireGuard works on this host"
elif hi_wg_kernel_ok; then
  hi_log "kernel WireGuard module available"
elif command -v wireguard-go >/dev/null 2>&1; then
  hi_log "no kernel WireGuard module: wg-quick will use wireguard-go (present)"
else
  hi_log "no kernel WireGuard module: installing wireguard-go for wg-quick to fall back to"
  case "$HI_PKG" in
    apt | apk) hi_pkg_install wireguard-go ;;
    dnf) hi_fail "the kernel has no WireGuard module and wireguard-go is not packaged for dnf; boot a kernel with WireGuard (RHEL 8.4 or later) or install wireguard-go, then run again" ;;
  esac
  command -v wireguard-go >/dev/null 2>&1 || hi_fail "wireguard-go is still missing after installing its package"
fi

# @template delete
hi_log "wireguard-tools (and wireguard-go, if any) are left installed: other software may use them"
