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
