# --- bash of the WireGuard wg-config step and its delete (rendered by scripts.ts; templates: see ../host/shellTemplate.ts) ---
# A body runs after the host prelude (components/src/host/prelude.sh): hi_* functions, HI_INIT, HI_CHANGED.
# Its `vars` block sets WG_IF, WG_SYSCTL, the WG_CHAIN_* chains, WG_FW_RECORD and WG_FW_TAG (commonVars in
# scripts.ts); firewall-functions is firewall.sh.

# @template config
# @insert vars
# @insert firewall-functions
# A digest of the live peer state (keys, allowed IPs, keepalive); endpoints roam, so they are left out.
hi_wg_state() {
  wg show "$WG_IF" dump 2>/dev/null | awk -F '\t' 'NR == 1 { print $1, $3, $4; next } { print $1, $2, $4, $8 }' | sort | cksum
}
hi_wg_route_key() { case "$1" in */*) printf '%s' "$1" ;; *) printf '%s/32' "$1" ;; esac; }

mkdir -p /etc/wireguard
chmod 0700 /etc/wireguard
# @insert wg-conf

case "$HI_INIT" in
  systemd)
    if ! systemctl is-enabled --quiet "wg-quick@$WG_IF" 2>/dev/null; then
      systemctl enable "wg-quick@$WG_IF" >/dev/null 2>&1
      HI_CHANGED=1
      hi_log "enabled wg-quick@$WG_IF at boot"
    fi ;;
  openrc)
# @insert openrc-service
    if ! rc-update show default 2>/dev/null | grep -q "^ *wg-quick.$WG_IF "; then
      rc-update add "wg-quick.$WG_IF" default >/dev/null
      HI_CHANGED=1
      hi_log "enabled wg-quick.$WG_IF at boot"
    fi ;;
  *)
    hi_warn "no init system (systemd or OpenRC) found: $WG_IF is not brought up at boot; run 'wg-quick up $WG_IF' after a reboot" ;;
esac

if ip link show dev "$WG_IF" >/dev/null 2>&1; then
  before="$(hi_wg_state)"
  wg syncconf "$WG_IF" <(wg-quick strip "$WG_IF")
  if [ "$(hi_wg_state)" != "$before" ]; then
    HI_CHANGED=1
    hi_log "synced $WG_IF live with wg syncconf: peers changed (interface not restarted)"
  else
    hi_log "peers of $WG_IF already in sync"
  fi
  addrs="$(ip -4 -o addr show dev "$WG_IF" | awk '{ print $4 }')"
  if ! printf '%s\n' "$addrs" | grep -qxF "$WG_ADDR"; then
    ip address add "$WG_ADDR" dev "$WG_IF"
    HI_CHANGED=1
    hi_log "added address $WG_ADDR to $WG_IF"
  fi
  while read -r a; do
    if [ -n "$a" ] && [ "$a" != "$WG_ADDR" ]; then
      ip address del "$a" dev "$WG_IF"
      HI_CHANGED=1
      hi_log "removed old address $a from $WG_IF"
    fi
  done <<<"$addrs"
  if [ "$(cat "/sys/class/net/$WG_IF/mtu")" != "$WG_MTU" ]; then
    ip link set dev "$WG_IF" mtu "$WG_MTU"
    HI_CHANGED=1
    hi_log "set MTU $WG_MTU on $WG_IF"
  fi
  # Routes as wg-quick adds them: one per AllowedIPs entry not already covered by a route on the interface.
  for r in "${WG_ROUTES[@]}"; do
    if [ -z "$(ip -4 route show dev "$WG_IF" match "$r" 2>/dev/null)" ]; then
      ip -4 route replace "$r" dev "$WG_IF"
      HI_CHANGED=1
      hi_log "added route $r via $WG_IF"
    fi
  done
  # Routes wg-quick or an earlier run added (proto boot) for peers that are gone.
  while read -r dst _; do
    [ -n "$dst" ] || continue
    keep=0
    for r in "${WG_ROUTES[@]}"; do
      if [ "$(hi_wg_route_key "$r")" = "$(hi_wg_route_key "$dst")" ]; then keep=1; fi
    done
    if [ "$keep" = 0 ]; then
      ip -4 route del "$dst" dev "$WG_IF"
      HI_CHANGED=1
      hi_log "removed stale route $dst from $WG_IF"
    fi
  done < <(ip -4 route show dev "$WG_IF" proto boot)
else
  case "$HI_INIT" in
    systemd) systemctl start "wg-quick@$WG_IF" ;;
    openrc) rc-service "wg-quick.$WG_IF" start ;;
    *) wg-quick up "$WG_IF" ;;
  esac
  HI_CHANGED=1
  hi_log "brought up $WG_IF"
fi

# @insert forwarding
# Host firewall: the overlay interface, the pod and service CIDRs{{port-note}} (see hostFirewallRules).
HI_FW_KIND="$(hi_fw_kind)"
hi_log "host firewall: $HI_FW_KIND"
case "$HI_FW_KIND" in
  firewalld)
    hi_wg_chain_remove filter INPUT "$WG_CHAIN_IN"
    hi_ufw_remove "$WG_FW_TAG"
    hi_fwd_apply "$WG_FW_RECORD" <<'HI_RULES'
# @insert firewalld-rules
HI_RULES
    ;;
  ufw)
    hi_wg_chain_remove filter INPUT "$WG_CHAIN_IN"
    hi_fwd_remove "$WG_FW_RECORD"
    hi_ufw_apply "$WG_FW_TAG" <<'HI_RULES'
# @insert ufw-rules
HI_RULES
    ;;
  *)
    hi_fwd_remove "$WG_FW_RECORD"
    hi_ufw_remove "$WG_FW_TAG"
    hi_wg_chain filter INPUT "$WG_CHAIN_IN" <<'HI_RULES'
# @insert iptables-rules
HI_RULES
    ;;
esac
# @insert forward-chain
# @insert nat-chain
# @insert lan-route-hint
# @insert name-endpoints
# @insert watchdog

# @template forwarding-on
WG_SYSCTL_BEFORE={{sysctl-record}}
hi_write_file "$WG_SYSCTL" 0644 root:root '#' <<'HI_FILE_EOF'
net.ipv4.ip_forward = 1
HI_FILE_EOF
if [ "$(cat /proc/sys/net/ipv4/ip_forward)" != 1 ]; then
  # The host's own value, for the delete to restore; recorded once (a later run finds forwarding on, or ours).
  if [ ! -e "$WG_SYSCTL_BEFORE" ]; then
    hi_write_file "$WG_SYSCTL_BEFORE" 0600 root:root '#' <<<"net.ipv4.ip_forward = $(cat /proc/sys/net/ipv4/ip_forward)"
  fi
  sysctl -w net.ipv4.ip_forward=1 >/dev/null
  HI_CHANGED=1
  hi_log "enabled IPv4 forwarding"
fi

# @template forwarding-off
# Not a forwarder: the sysctl file goes (live forwarding is left alone: other software may need it).
hi_remove_managed_file "$WG_SYSCTL"

# @template delete
# @insert vars
# @insert firewall-functions
# The watchdog goes first: it would bring the interface up again.
# @insert watchdog-removal
if ip link show dev "$WG_IF" >/dev/null 2>&1; then
  case "$HI_INIT" in
    systemd) systemctl stop "wg-quick@$WG_IF" >/dev/null 2>&1 || true ;;
    openrc) rc-service "wg-quick.$WG_IF" stop >/dev/null 2>&1 || true ;;
  esac
  if ip link show dev "$WG_IF" >/dev/null 2>&1; then
    if [ -f "$WG_CONF" ]; then wg-quick down "$WG_IF" || ip link del dev "$WG_IF"; else ip link del dev "$WG_IF"; fi
  fi
  HI_CHANGED=1
  hi_log "brought down $WG_IF"
fi
case "$HI_INIT" in
  systemd) systemctl disable "wg-quick@$WG_IF" >/dev/null 2>&1 || true ;;
  openrc)
    rc-update del "wg-quick.$WG_IF" default >/dev/null 2>&1 || true
    hi_remove_managed_file "$WG_OPENRC" ;;
esac
hi_wg_chain_remove filter INPUT "$WG_CHAIN_IN"
hi_ufw_remove "$WG_FW_TAG"
hi_fwd_remove "$WG_FW_RECORD"
hi_wg_chain_remove filter FORWARD "$WG_CHAIN_FWD"
hi_wg_chain_remove nat POSTROUTING "$WG_CHAIN_NAT"
hi_remove_managed_file "$WG_SYSCTL"
if [ -f "$WG_SYSCTL_BEFORE" ]; then
  was="$(sed -n 's/^net\.ipv4\.ip_forward = \([0-9]\)$/\1/p' "$WG_SYSCTL_BEFORE")"
  others="$(grep -lE '^net\.ipv4\.ip_forward *= *1' /etc/sysctl.d/*hybridinfra* 2>/dev/null || true)"
  if [ -n "$others" ]; then
    hi_log "IPv4 forwarding stays on: $(printf '%s' "$others" | tr '\n' ' ')still asks for it"
  elif [ -n "$was" ] && [ "$(cat /proc/sys/net/ipv4/ip_forward)" != "$was" ]; then
    sysctl -w "net.ipv4.ip_forward=$was" >/dev/null
    HI_CHANGED=1
    hi_log "restored net.ipv4.ip_forward = $was, its value before $WG_IF turned forwarding on"
  fi
  hi_remove_managed_file "$WG_SYSCTL_BEFORE"
fi
hi_remove_managed_file "$WG_CONF"
# @insert name-endpoints-removal
rmdir /var/lib/hybridinfra 2>/dev/null || true
