#!/usr/bin/env bash
# hybridinfra step home-server/wg-config
HI_HOST=home-server
HI_STEP=wg-config
# --- hybridinfra prelude: shared by every host step (managed by HybridInfra) ---
set -euo pipefail
umask 077
shopt -u patsub_replacement 2>/dev/null || true

HI_HOST="${HI_HOST:-unknown-host}"
HI_STEP="${HI_STEP:-unknown-step}"
HI_MARKER="managed by hybridinfra"
declare -A HI_SECRETS=()
HI_CHANGED=0
HI_TMPFILES=()
hi_cleanup() { if [ "${#HI_TMPFILES[@]}" -gt 0 ]; then rm -f "${HI_TMPFILES[@]}"; fi; }
trap hi_cleanup EXIT

hi_log() { printf '[%s/%s] %s\n' "$HI_HOST" "$HI_STEP" "$*"; }
hi_warn() { printf '[%s/%s] warning: %s\n' "$HI_HOST" "$HI_STEP" "$*" >&2; }
hi_fail() {
  printf '[%s/%s] error: %s\n' "$HI_HOST" "$HI_STEP" "$*" >&2
  exit 1
}

# Reads "name base64value" lines from stdin into HI_SECRETS. Secrets never reach argv or the log.
hi_read_secrets() {
  local name value
  while IFS=' ' read -r name value || [ -n "${name:-}" ]; do
    [ -n "$name" ] || continue
    HI_SECRETS["$name"]="$(printf '%s' "$value" | base64 -d)"
  done
}

hi_secret() {
  [ -n "${HI_SECRETS[$1]+set}" ] || hi_fail "secret '$1' was not passed on stdin (this is a bug in HybridInfra)"
  printf '%s' "${HI_SECRETS[$1]}"
}

# Facts first: OS, package manager and init system. An unsupported host fails here, before any change.
hi_detect() {
  local kernel os_id="unknown" os_like=""
  kernel="$(uname -s)"
  [ "$kernel" = "Linux" ] || hi_fail "host $HI_HOST is not supported: kernel '$kernel' (only Linux hosts can join); nothing was changed"
  if [ -r /etc/os-release ]; then
    # shellcheck disable=SC1091
    os_id="$(. /etc/os-release && printf '%s' "${ID:-unknown}")"
    # shellcheck disable=SC1091
    os_like="$(. /etc/os-release && printf '%s' "${ID_LIKE:-}")"
  fi
  HI_OS_ID="$os_id"
  if command -v apt-get >/dev/null 2>&1; then HI_PKG=apt
  elif command -v dnf >/dev/null 2>&1; then HI_PKG=dnf
  elif command -v apk >/dev/null 2>&1; then HI_PKG=apk
  else
    hi_fail "host $HI_HOST is not supported: OS '$os_id'${os_like:+ (like $os_like)} has none of the package managers apt, dnf or apk; supported are Debian/Ubuntu, RHEL-like and Alpine; nothing was changed"
  fi
  if [ -d /run/systemd/system ]; then HI_INIT=systemd
  elif command -v openrc >/dev/null 2>&1 || [ -d /run/openrc ]; then HI_INIT=openrc
  else
    HI_INIT=none
  fi
  HI_ARCH="$(uname -m)"
  export HI_OS_ID HI_PKG HI_INIT HI_ARCH
}

hi_pkg_installed() {
  case "$HI_PKG" in
    apt) dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed' ;;
    dnf) rpm -q "$1" >/dev/null 2>&1 ;;
    apk) apk info -e "$1" >/dev/null 2>&1 ;;
  esac
}

# Installs only the packages that are missing.
hi_pkg_install() {
  local missing=() p
  for p in "$@"; do hi_pkg_installed "$p" || missing+=("$p"); done
  [ "${#missing[@]}" -gt 0 ] || { hi_log "packages present: $*"; return 0; }
  hi_log "installing: ${missing[*]}"
  case "$HI_PKG" in
    apt) DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" ;;
    dnf) dnf install -y -q "${missing[@]}" ;;
    apk) apk add --no-cache -q "${missing[@]}" ;;
  esac
  HI_CHANGED=1
}

# hi_ensure_cmd COMMAND PKG_APT PKG_DNF PKG_APK: installs a package only when the command is missing.
hi_ensure_cmd() {
  local cmd="$1"
  if command -v "$cmd" >/dev/null 2>&1; then hi_log "$cmd present"; return 0; fi
  case "$HI_PKG" in
    apt) hi_pkg_install "$2" ;;
    dnf) hi_pkg_install "$3" ;;
    apk) hi_pkg_install "$4" ;;
  esac
  command -v "$cmd" >/dev/null 2>&1 || hi_fail "'$cmd' is still missing after installing its package"
}

# hi_write_file PATH MODE OWNER COMMENT_PREFIX < content
# Writes through a temp file in the same directory and renames it into place, so a reader never sees
# half a file. Placeholders @@HI_SECRET:name@@ are filled from stdin secrets on the host only.
# Prints "changed" or "unchanged"; sets HI_CHANGED=1 when the file changed.
hi_write_file() {
  local path="$1" mode="$2" owner="$3" prefix="$4" dir tmp content name
  dir="$(dirname "$path")"
  mkdir -p "$dir"
  content="$(cat)"
  for name in "${!HI_SECRETS[@]}"; do
    content="${content//@@HI_SECRET:${name}@@/${HI_SECRETS[$name]}}"
  done
  case "$content" in *@@HI_SECRET:*) hi_fail "$path: a secret placeholder was not filled (bug in HybridInfra)" ;; esac
  tmp="$(mktemp "$dir/.hybridinfra.XXXXXX")"
  HI_TMPFILES+=("$tmp")
  {
    if [ -n "$prefix" ]; then printf '%s %s: do not edit, changes are overwritten\n' "$prefix" "$HI_MARKER"; fi
    printf '%s\n' "$content"
  } >"$tmp"
  chmod "$mode" "$tmp"
  chown "$owner" "$tmp"
  if [ -f "$path" ] && cmp -s "$tmp" "$path" && [ "$(stat -c '%a %U:%G' "$path")" = "$(stat -c '%a %U:%G' "$tmp")" ]; then
    rm -f "$tmp"
    hi_log "unchanged $path"
    return 0
  fi
  mv -f "$tmp" "$path"
  hi_log "changed $path"
  HI_CHANGED=1
}

# Removes a file only when it carries the managed marker (never a file the user wrote).
hi_remove_managed_file() {
  local path="$1"
  [ -e "$path" ] || { hi_log "already absent $path"; return 0; }
  if grep -q "$HI_MARKER" "$path" 2>/dev/null || [ "${2:-}" = "--any" ]; then
    rm -f "$path"
    hi_log "removed $path"
  else
    hi_warn "kept $path: it is not managed by hybridinfra"
  fi
}

# Enables and starts a service with the host's init system.
hi_service_enable() {
  local svc="$1"
  case "$HI_INIT" in
    systemd)
      systemctl is-enabled --quiet "$svc" 2>/dev/null || { systemctl enable "$svc" >/dev/null; HI_CHANGED=1; hi_log "enabled $svc"; }
      systemctl is-active --quiet "$svc" || { systemctl start "$svc"; HI_CHANGED=1; hi_log "started $svc"; } ;;
    openrc)
      rc-update show default 2>/dev/null | grep -q "^ *$svc " || { rc-update add "$svc" default >/dev/null; HI_CHANGED=1; hi_log "enabled $svc"; }
      rc-service "$svc" status >/dev/null 2>&1 || { rc-service "$svc" start; HI_CHANGED=1; hi_log "started $svc"; } ;;
    none)
      hi_warn "no init system found (systemd or OpenRC); $svc is not enabled at boot" ;;
  esac
}

hi_service_disable() {
  local svc="$1"
  case "$HI_INIT" in
    systemd) systemctl disable --now "$svc" >/dev/null 2>&1 || true ;;
    openrc) rc-service "$svc" stop >/dev/null 2>&1 || true; rc-update del "$svc" default >/dev/null 2>&1 || true ;;
    none) true ;;
  esac
}

hi_done() {
  if [ "$HI_CHANGED" = 1 ]; then hi_log "done (changed)"; else hi_log "done (no change)"; fi
}
# --- end of prelude ---
hi_read_secrets
hi_detect
WG_IF=wg0
WG_SYSCTL=/etc/sysctl.d/99-hybridinfra-wg0.conf
WG_CHAIN_IN=HI-wg0-IN
WG_CHAIN_FWD=HI-wg0-FWD
WG_CHAIN_NAT=HI-wg0-NAT
WG_FW_RECORD=/var/lib/hybridinfra/firewalld-wg0
WG_FW_TAG=hybridinfra-wg0
WG_ADDR=10.100.0.99/24
WG_MTU=1420
WG_ROUTES=(10.100.0.0/24)
# --- hybridinfra host firewall functions of the WireGuard steps (components/src/wireguard/firewall.sh) ---

# hi_wg_chain TABLE HOOK CHAIN < rules (one rule a line, words without spaces)
# Makes CHAIN hold exactly these rules and hooks it first into HOOK; the chain is ours alone.
hi_wg_chain() {
  local table="$1" hook="$2" chain="$3" rule ok=1 have
  local want=()
  while IFS= read -r rule; do [ -z "$rule" ] || want+=("$rule"); done
  if iptables -t "$table" -N "$chain" 2>/dev/null; then HI_CHANGED=1; hi_log "created iptables chain $table/$chain"; fi
  for rule in "${want[@]}"; do
    # shellcheck disable=SC2086 # a rule is a list of words
    iptables -t "$table" -C "$chain" $rule 2>/dev/null || ok=0
  done
  have="$(iptables -t "$table" -S "$chain" | grep -c -- "^-A $chain " || true)"
  if [ "$ok" = 0 ] || [ "$have" != "${#want[@]}" ]; then
    iptables -t "$table" -F "$chain"
    for rule in "${want[@]}"; do
      # shellcheck disable=SC2086 # a rule is a list of words
      iptables -t "$table" -A "$chain" $rule
    done
    HI_CHANGED=1
    hi_log "set iptables chain $table/$chain (${#want[@]} rules)"
  fi
  if ! iptables -t "$table" -C "$hook" -j "$chain" 2>/dev/null; then
    iptables -t "$table" -I "$hook" 1 -j "$chain"
    HI_CHANGED=1
    hi_log "hooked $chain into $table/$hook"
  fi
}
# hi_wg_chain_remove TABLE HOOK CHAIN
hi_wg_chain_remove() {
  local table="$1" hook="$2" chain="$3"
  command -v iptables >/dev/null 2>&1 || return 0
  while iptables -t "$table" -D "$hook" -j "$chain" 2>/dev/null; do HI_CHANGED=1; done
  if iptables -t "$table" -F "$chain" 2>/dev/null; then
    iptables -t "$table" -X "$chain"
    HI_CHANGED=1
    hi_log "removed iptables chain $table/$chain"
  fi
}

# hi_in_list WORD LIST...: true when WORD is one of LIST.
hi_in_list() {
  local w="$1" x
  shift
  for x in "$@"; do [ "$x" = "$w" ] && return 0; done
  return 1
}

# Which firewall decides what reaches this host: "firewalld" (running), "ufw" (active), else "iptables"
# (plain rules, legacy or nf_tables backend). firewalld and ufw rebuild or bypass plain iptables rules, so
# the overlay's openings go into the firewall that is in charge.
hi_fw_kind() {
  if command -v firewall-cmd >/dev/null 2>&1 && firewall-cmd --state >/dev/null 2>&1; then
    printf 'firewalld\n'
  elif command -v ufw >/dev/null 2>&1 && LC_ALL=C ufw status 2>/dev/null | grep -q '^Status: active'; then
    printf 'ufw\n'
  else
    printf 'iptables\n'
  fi
}

# --- firewalld: trusted zone for the interface and the CIDRs, the WireGuard port in the public zone ---

# The zone of the interface that carries the default route (the public side), else the default zone.
hi_fwd_public_zone() {
  local dev zone
  dev="$(ip -4 route show default 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')"
  if [ -n "$dev" ] && zone="$(firewall-cmd --get-zone-of-interface="$dev" 2>/dev/null)" && [ -n "$zone" ]; then
    printf '%s\n' "$zone"
  else
    firewall-cmd --get-default-zone
  fi
}

# hi_fwd_item query|add|remove ZONE KIND VALUE [--permanent]; KIND is interface, source or port.
# "add" binds an interface or source to ZONE even when another zone had it (--change-*).
hi_fwd_item() {
  local action="$1" zone="$2" kind="$3" value="$4"
  shift 4
  case "$action/$kind" in
    add/interface | add/source) set -- "$@" "--zone=$zone" "--change-$kind=$value" ;;
    *) set -- "$@" "--zone=$zone" "--$action-$kind=$value" ;;
  esac
  firewall-cmd -q "$@" 2>/dev/null
}

# hi_fwd_apply RECORD < items ("interface wg0", "source 10.42.0.0/16", "port 51820/udp")
# Interfaces and sources go to the trusted zone, ports to the public zone; each is set at runtime and
# permanently. RECORD lists the entries this step added ("zone kind value"), so that entries no longer
# wanted, and on delete all of ours, are removed, and entries the host had before are never touched.
hi_fwd_apply() {
  local record="$1" kind value zone public item mine p
  local want=() had=() ours=()
  public="$(hi_fwd_public_zone)"
  while read -r kind value; do
    [ -n "$kind" ] || continue
    if [ "$kind" = port ]; then zone="$public"; else zone=trusted; fi
    want+=("$zone $kind $value")
  done
  if [ -f "$record" ]; then mapfile -t had < <(grep -v '^#' "$record" | grep -v '^$' || true); fi
  for item in "${had[@]}"; do
    if [ "${#want[@]}" -gt 0 ] && hi_in_list "$item" "${want[@]}"; then continue; fi
    read -r zone kind value <<<"$item"
    hi_fwd_item remove "$zone" "$kind" "$value" --permanent || true
    hi_fwd_item remove "$zone" "$kind" "$value" || true
    HI_CHANGED=1
    hi_log "firewalld: removed $kind $value from zone $zone"
  done
  for item in "${want[@]}"; do
    read -r zone kind value <<<"$item"
    mine=0
    if [ "${#had[@]}" -gt 0 ] && hi_in_list "$item" "${had[@]}"; then mine=1; fi
    for p in --permanent --runtime; do
      # --runtime is no firewall-cmd option: the runtime configuration is the one without --permanent.
      if [ "$p" = --runtime ]; then set --; else set -- "$p"; fi
      if ! hi_fwd_item query "$zone" "$kind" "$value" "$@"; then
        hi_fwd_item add "$zone" "$kind" "$value" "$@" || hi_fail "firewalld refused to add $kind $value to zone $zone${1:+ ($1)}"
        mine=1
        HI_CHANGED=1
        hi_log "firewalld: added $kind $value to zone $zone${1:+ ($1)}"
      fi
    done
    if [ "$mine" = 1 ]; then ours+=("$item"); fi
  done
  if [ "${#ours[@]}" -gt 0 ]; then
    hi_write_file "$record" 0600 root:root '#' <<<"$(printf '%s\n' "${ours[@]}")"
  elif [ -e "$record" ]; then
    hi_remove_managed_file "$record"
  fi
}

# hi_fwd_remove RECORD: removes every entry RECORD lists (the delete), then RECORD.
hi_fwd_remove() {
  local record="$1"
  [ -e "$record" ] || return 0
  if ! command -v firewall-cmd >/dev/null 2>&1 || ! firewall-cmd --state >/dev/null 2>&1; then
    hi_warn "firewalld is not running: the entries listed in $record stay in its permanent configuration; start firewalld and run again to remove them"
    return 0
  fi
  hi_fwd_apply "$record" </dev/null
}

# --- ufw: rules carrying our comment, so they are told apart from the user's ---

# hi_ufw_ours TAG: the rules with comment TAG, as ufw lists them ("allow in on wg0").
hi_ufw_ours() {
  LC_ALL=C ufw show added 2>/dev/null | sed -n "s/^ufw \(.*\) comment '$1'\$/\1/p"
}

# hi_ufw_apply TAG < rules (ufw rule words, e.g. "allow in on wg0", one a line)
# Adds the missing rules with comment TAG and deletes rules with that comment that are no longer wanted.
hi_ufw_apply() {
  local tag="$1" rule
  local want=() have=()
  while IFS= read -r rule; do [ -z "$rule" ] || want+=("$rule"); done
  mapfile -t have < <(hi_ufw_ours "$tag")
  for rule in "${have[@]}"; do
    [ -n "$rule" ] || continue
    if [ "${#want[@]}" -gt 0 ] && hi_in_list "$rule" "${want[@]}"; then continue; fi
    # shellcheck disable=SC2086 # a rule is a list of words
    ufw delete $rule >/dev/null
    HI_CHANGED=1
    hi_log "ufw: deleted rule '$rule'"
  done
  for rule in "${want[@]}"; do
    if [ "${#have[@]}" -gt 0 ] && hi_in_list "$rule" "${have[@]}"; then continue; fi
    # shellcheck disable=SC2086 # a rule is a list of words
    ufw $rule comment "$tag" >/dev/null
    HI_CHANGED=1
    hi_log "ufw: added rule '$rule'"
  done
}

# hi_ufw_remove TAG: deletes every rule with comment TAG (ufw installed, active or not).
hi_ufw_remove() {
  command -v ufw >/dev/null 2>&1 || return 0
  hi_ufw_apply "$1" </dev/null
}
# --- end of firewall functions ---

# A digest of the live peer state (keys, allowed IPs, keepalive); endpoints roam, so they are left out.
hi_wg_state() {
  wg show "$WG_IF" dump 2>/dev/null | awk -F '\t' 'NR == 1 { print $1, $3, $4; next } { print $1, $2, $4, $8 }' | sort | cksum
}
hi_wg_route_key() { case "$1" in */*) printf '%s' "$1" ;; *) printf '%s/32' "$1" ;; esac; }

mkdir -p /etc/wireguard
chmod 0700 /etc/wireguard
hi_write_file /etc/wireguard/wg0.conf 0600 root:root '#' <<'HI_FILE_EOF'
# WireGuard interface wg0 of host home-server
[Interface]
Address = 10.100.0.99/24
ListenPort = 51820
MTU = 1420
PrivateKey = @@HI_SECRET:wg_private_key@@

# peer cloud-ingress
[Peer]
PublicKey = xw8lM52+Myk/t7/3+GyGpSRkPPy/zO6WJCZuwq2woB4=
Endpoint = 203.0.113.10:51820
AllowedIPs = 10.100.0.0/24
PersistentKeepalive = 25
HI_FILE_EOF

case "$HI_INIT" in
  systemd)
    if ! systemctl is-enabled --quiet "wg-quick@$WG_IF" 2>/dev/null; then
      systemctl enable "wg-quick@$WG_IF" >/dev/null 2>&1
      HI_CHANGED=1
      hi_log "enabled wg-quick@$WG_IF at boot"
    fi ;;
  openrc)
hi_write_file /etc/init.d/wg-quick.wg0 0755 root:root '' <<'HI_FILE_EOF'
#!/sbin/openrc-run
# managed by hybridinfra: do not edit, changes are overwritten
description="WireGuard interface wg0"
depend() {
  need net
  after firewall
}
start() {
  ebegin "Starting WireGuard interface wg0"
  wg-quick up wg0
  eend $?
}
stop() {
  ebegin "Stopping WireGuard interface wg0"
  wg-quick down wg0
  eend $?
}
HI_FILE_EOF
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

WG_SYSCTL_BEFORE=/var/lib/hybridinfra/sysctl-wg0.before
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
# Host firewall: the overlay interface, the pod and service CIDRs and the WireGuard port (see hostFirewallRules).
HI_FW_KIND="$(hi_fw_kind)"
hi_log "host firewall: $HI_FW_KIND"
case "$HI_FW_KIND" in
  firewalld)
    hi_wg_chain_remove filter INPUT "$WG_CHAIN_IN"
    hi_ufw_remove "$WG_FW_TAG"
    hi_fwd_apply "$WG_FW_RECORD" <<'HI_RULES'
interface wg0
source 10.42.0.0/16
source 10.43.0.0/16
port 51820/udp
HI_RULES
    ;;
  ufw)
    hi_wg_chain_remove filter INPUT "$WG_CHAIN_IN"
    hi_fwd_remove "$WG_FW_RECORD"
    hi_ufw_apply "$WG_FW_TAG" <<'HI_RULES'
allow in on wg0
allow from 10.42.0.0/16
allow from 10.43.0.0/16
allow 51820/udp
HI_RULES
    ;;
  *)
    hi_fwd_remove "$WG_FW_RECORD"
    hi_ufw_remove "$WG_FW_TAG"
    hi_wg_chain filter INPUT "$WG_CHAIN_IN" <<'HI_RULES'
-i wg0 -j ACCEPT
-s 10.42.0.0/16 -j ACCEPT
-s 10.43.0.0/16 -j ACCEPT
-p udp --dport 51820 -j ACCEPT
HI_RULES
    ;;
esac
hi_wg_chain filter FORWARD "$WG_CHAIN_FWD" <<'HI_RULES'
-i wg0 -o wg0 -j ACCEPT
-i wg0 -d 192.168.50.0/24 -j ACCEPT
-o wg0 -s 192.168.50.0/24 -j ACCEPT
HI_RULES
hi_wg_chain nat POSTROUTING "$WG_CHAIN_NAT" <<'HI_RULES'
-s 10.100.0.0/24 -d 192.168.50.0/24 -j MASQUERADE
HI_RULES
# Plain hosts on 192.168.50.0/24 without this host as their gateway route these via it (see renderLanRouteHint).
WG_LAN_VIA="$(ip -4 -o route get 192.168.50.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')"
if [ -n "$WG_LAN_VIA" ]; then
  hi_log "plain hosts on 192.168.50.0/24: ip route add 10.100.0.0/24 via $WG_LAN_VIA"
else
  hi_warn "no route to 192.168.50.0/24 here: this host cannot forward into it"
fi
if [ "$HI_INIT" = systemd ] && systemctl is-enabled --quiet hybridinfra-wg-reresolve-wg0.timer 2>/dev/null; then
  systemctl disable --now hybridinfra-wg-reresolve-wg0.timer >/dev/null 2>&1 || true
  HI_CHANGED=1
  hi_log "disabled hybridinfra-wg-reresolve-wg0.timer"
fi
for f in /etc/systemd/system/hybridinfra-wg-reresolve-wg0.timer /etc/systemd/system/hybridinfra-wg-reresolve-wg0.service /etc/periodic/15min/hybridinfra-wg-reresolve-wg0 /usr/local/sbin/hybridinfra-wg-reresolve-wg0; do
  [ ! -e "$f" ] || hi_remove_managed_file "$f"
done
# Watchdog every 20 s: wg0 back up when it dies; a new handshake when cloud-ingress lost the session.
hi_write_file /usr/local/sbin/hybridinfra-wg-watchdog-wg0 0755 root:root '' <<'HI_FILE_EOF'
#!/usr/bin/env bash
# managed by hybridinfra: do not edit, changes are overwritten
# Watchdog of WireGuard wg0: brings it up when it is gone, and starts a new handshake with a peer
# it dials when that peer stopped answering (it restarted and lost the session). Prints what it repaired.
# Usage: $0 (one run), or $0 --every SECONDS (runs forever, as the OpenRC service does).
set -u
if [ "${1:-}" = --every ]; then
  while :; do "$0"; sleep "$2"; done
fi
IF=wg0
CONF=/etc/wireguard/wg0.conf
say() { printf 'hybridinfra-wg-watchdog %s: %s\n' "$IF" "$*"; }
answers() { ping -c 1 -W 1 "$1" >/dev/null 2>&1 || ping -c 1 -W 1 "$1" >/dev/null 2>&1; }
if ! ip link show dev "$IF" >/dev/null 2>&1; then
  [ -f "$CONF" ] || exit 0
  if out="$(wg-quick up "$IF" 2>&1)"; then
    say "repaired: $IF was gone (its WireGuard process died or the interface was deleted); brought it up with wg-quick up"
  else
    say "could not bring $IF up: $out" >&2
    exit 1
  fi
fi
handshakes="$(wg show "$IF" latest-handshakes 2>/dev/null)" || exit 0
while read -r name key address; do
  [ -n "$key" ] || continue
  last="$(printf '%s\n' "$handshakes" | awk -v k="$key" '$1 == k { print $2 }')"
  # A peer missing from the interface is the config step's business.
  [ -n "$last" ] || continue
  answers "$address" && continue
  # No handshake yet: WireGuard is handshaking already (the ping started it).
  [ "$last" != 0 ] || continue
  section="$(wg showconf "$IF" | awk -v k="$key" '
    /^\[/ { if (keep) exit; peer = ($0 == "[Peer]"); buf = $0 "\n"; next }
    peer { buf = buf $0 "\n"; if ($0 == "PublicKey = " k) keep = 1 }
    END { if (keep) printf "%s", buf }')"
  [ -n "$section" ] || continue
  age=$(($(date +%s) - last))
  wg set "$IF" peer "$key" remove
  if ! wg addconf "$IF" <(printf '%s\n' "$section"); then
    say "could not add peer $name back to $IF: run the wg-config step again" >&2
    exit 1
  fi
  if answers "$address"; then
    say "repaired: peer $name ($address) stopped answering $age s after the last handshake (it restarted?); re-added it: a new handshake completed, it answers"
  else
    say "peer $name ($address) stopped answering $age s after the last handshake; re-added it: WireGuard is handshaking (the peer may be down)"
  fi
done <<'HI_PEERS'
cloud-ingress xw8lM52+Myk/t7/3+GyGpSRkPPy/zO6WJCZuwq2woB4= 10.100.0.153
HI_PEERS
exit 0
HI_FILE_EOF
case "$HI_INIT" in
  systemd)
hi_write_file /etc/systemd/system/hybridinfra-wg-watchdog-wg0.service 0644 root:root '' <<'HI_FILE_EOF'
# managed by hybridinfra: do not edit, changes are overwritten
[Unit]
Description=Watchdog of WireGuard wg0: brings it up, re-handshakes with peers that lost the session
After=wg-quick@wg0.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/hybridinfra-wg-watchdog-wg0
HI_FILE_EOF
hi_write_file /etc/systemd/system/hybridinfra-wg-watchdog-wg0.timer 0644 root:root '' <<'HI_FILE_EOF'
# managed by hybridinfra: do not edit, changes are overwritten
[Unit]
Description=Watchdog of WireGuard wg0 every 20 s

[Timer]
OnBootSec=20
OnUnitActiveSec=20
AccuracySec=1s

[Install]
WantedBy=timers.target
HI_FILE_EOF
    systemctl daemon-reload
    if ! systemctl is-enabled --quiet hybridinfra-wg-watchdog-wg0.timer 2>/dev/null || ! systemctl is-active --quiet hybridinfra-wg-watchdog-wg0.timer 2>/dev/null; then
      systemctl enable --now hybridinfra-wg-watchdog-wg0.timer >/dev/null 2>&1
      HI_CHANGED=1
      hi_log "enabled hybridinfra-wg-watchdog-wg0.timer: the watchdog runs every 20 s"
    fi ;;
  openrc)
    wd_before="$(cksum </etc/init.d/hybridinfra-wg-watchdog-wg0 2>/dev/null || true)"
hi_write_file /etc/init.d/hybridinfra-wg-watchdog-wg0 0755 root:root '' <<'HI_FILE_EOF'
#!/sbin/openrc-run
# managed by hybridinfra: do not edit, changes are overwritten
description="Watchdog of WireGuard wg0 every 20 s"
supervisor=supervise-daemon
command=/usr/local/sbin/hybridinfra-wg-watchdog-wg0
command_args="--every 20"
output_log=/var/log/hybridinfra-wg-watchdog-wg0.log
error_log=/var/log/hybridinfra-wg-watchdog-wg0.log
depend() {
  need net
  after wg-quick.wg0
}
HI_FILE_EOF
    if [ "$(cksum </etc/init.d/hybridinfra-wg-watchdog-wg0)" != "$wd_before" ] && rc-service hybridinfra-wg-watchdog-wg0 status >/dev/null 2>&1; then
      rc-service hybridinfra-wg-watchdog-wg0 restart >/dev/null
      hi_log "restarted hybridinfra-wg-watchdog-wg0: its interval changed"
    fi
    hi_service_enable hybridinfra-wg-watchdog-wg0 ;;
  *)
    hi_warn "no init system: run '/usr/local/sbin/hybridinfra-wg-watchdog-wg0 --every 20' in the background so wg0 heals itself" ;;
esac
hi_done