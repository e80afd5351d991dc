# --- the rule script an ingress-forward step installs (renderForwardScript in render.ts; templates: see ../host/shellTemplate.ts) ---
# `apply` brings the rules to the plan (new chains beside the old, jumps swapped, old chains removed),
# `remove` deletes every HI-FWD-* chain and jump. The script's blocks, from render.ts: functions (the
# template below, shared with the step's delete), rules (one hi_fwd_rule line per rule of the plan) and
# remove (the template below). {{prefix}} is the chain prefix (CHAIN_PREFIX) every chain of the step has.
# The functions make every change through -C (check) first, so a second run changes nothing; chains are
# created only when missing.

# @template script
#!/usr/bin/env bash
# managed by hybridinfra: do not edit, changes are overwritten
# Forwards public TCP ports over the overlay to the cluster's ingress (HybridInfra PublicIngressForward).
set -euo pipefail
hi_log() { printf '[ingress-forward] %s\n' "$*"; }
hi_fail() { printf '[ingress-forward] error: %s\n' "$*" >&2; exit 1; }
# @insert functions

DNAT={{dnat}}
SNAT={{snat}}
FILTER={{filter}}
OVERLAY={{overlay}}
PUBLIC={{public}}

hi_fwd_apply() {
  local waited=0
  # At boot the overlay and the default route may come up after this runs: wait up to a minute.
  while :; do
    if [ -z "$PUBLIC" ]; then
      PUBLIC="$(ip -4 route show default 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')"
    fi
    if [ -n "$PUBLIC" ] && ip link show "$PUBLIC" >/dev/null 2>&1 && ip link show "$OVERLAY" >/dev/null 2>&1; then break; fi
    if [ "$waited" -ge "${HI_FWD_WAIT:-60}" ]; then
      [ -n "$PUBLIC" ] || hi_fail "no IPv4 default route to detect the public interface from; set publicInterface"
      ip link show "$PUBLIC" >/dev/null 2>&1 || hi_fail "public interface $PUBLIC does not exist"
      hi_fail "overlay interface $OVERLAY does not exist; bring the overlay up first"
    fi
    sleep 2
    waited=$((waited + 2))
  done
  [ "$PUBLIC" != "$OVERLAY" ] || hi_fail "the default route goes through the overlay ($OVERLAY); set publicInterface"
  hi_log "public interface $PUBLIC, overlay $OVERLAY"
  if [ "$(sysctl -n net.ipv4.ip_forward)" != 1 ]; then
    sysctl -q -w net.ipv4.ip_forward=1
    hi_log "changed: net.ipv4.ip_forward=1"
  fi
  hi_fwd_chain nat "$DNAT"
  hi_fwd_chain nat "$SNAT"
  hi_fwd_chain filter "$FILTER"
# @insert rules
  # Jumps last: the new chains are complete before traffic reaches them.
  hi_fwd_jump nat PREROUTING -i "$PUBLIC" -j "$DNAT"
  hi_fwd_jump nat POSTROUTING -o "$OVERLAY" -j "$SNAT"
  hi_fwd_jump filter FORWARD -j "$FILTER"
  hi_fwd_prune_jumps nat PREROUTING {{prefix}}DNAT- "-A PREROUTING -i $PUBLIC -j $DNAT"
  hi_fwd_prune_jumps nat POSTROUTING {{prefix}}SNAT- "-A POSTROUTING -o $OVERLAY -j $SNAT"
  hi_fwd_prune_jumps filter FORWARD {{prefix}}FILT- "-A FORWARD -j $FILTER"
  hi_fwd_prune_chains nat {{prefix}}DNAT- "$DNAT"
  hi_fwd_prune_chains nat {{prefix}}SNAT- "$SNAT"
  hi_fwd_prune_chains filter {{prefix}}FILT- "$FILTER"
}

hi_fwd_remove() {
# @insert remove
}

case "${1:-apply}" in
  apply) hi_fwd_apply ;;
  remove) hi_fwd_remove ;;
  *) hi_fail "usage: $0 apply|remove" ;;
esac

# @template functions
hi_fwd_ipt() { iptables -w "$@"; }
hi_fwd_chain() {
  if hi_fwd_ipt -t "$1" -n -L "$2" >/dev/null 2>&1; then return 0; fi
  hi_fwd_ipt -t "$1" -N "$2"
  hi_log "changed: created chain $1/$2"
}
hi_fwd_rule() {
  local table="$1" chain="$2"
  shift 2
  if hi_fwd_ipt -t "$table" -C "$chain" "$@" 2>/dev/null; then return 0; fi
  hi_fwd_ipt -t "$table" -A "$chain" "$@"
  hi_log "changed: added $table/$chain $*"
}
hi_fwd_jump() {
  local table="$1" chain="$2"
  shift 2
  if hi_fwd_ipt -t "$table" -C "$chain" "$@" 2>/dev/null; then return 0; fi
  hi_fwd_ipt -t "$table" -I "$chain" 1 "$@"
  hi_log "changed: added $table/$chain $*"
}
# Deletes every rule of a built-in chain that jumps to a chain named PREFIX*, except the line KEEP.
hi_fwd_prune_jumps() {
  local table="$1" chain="$2" prefix="$3" keep="$4" line
  local -a words
  while IFS= read -r line; do
    [ "$line" != "$keep" ] || continue
    case "$line" in "-A $chain "*"-j $prefix"*) ;; *) continue ;; esac
    read -r -a words <<<"$line"
    words[0]=-D
    hi_fwd_ipt -t "$table" "${words[@]}"
    hi_log "changed: removed $table rule $line"
  done < <(hi_fwd_ipt -t "$table" -S "$chain")
}
# Flushes and deletes every chain named PREFIX* except KEEP.
hi_fwd_prune_chains() {
  local table="$1" prefix="$2" keep="$3" chain
  while IFS= read -r chain; do
    if [ -z "$chain" ] || [ "$chain" = "$keep" ]; then continue; fi
    hi_fwd_ipt -t "$table" -F "$chain"
    hi_fwd_ipt -t "$table" -X "$chain"
    hi_log "changed: removed chain $table/$chain"
  done < <(hi_fwd_ipt -t "$table" -S | awk -v p="$prefix" '$1 == "-N" && index($2, p) == 1 { print $2 }')
}

# @template remove
hi_fwd_prune_jumps nat PREROUTING {{prefix}}DNAT- ""
hi_fwd_prune_jumps nat POSTROUTING {{prefix}}SNAT- ""
hi_fwd_prune_jumps filter FORWARD {{prefix}}FILT- ""
hi_fwd_prune_chains nat {{prefix}}DNAT- ""
hi_fwd_prune_chains nat {{prefix}}SNAT- ""
hi_fwd_prune_chains filter {{prefix}}FILT- ""

# @template boot
#!/bin/sh
# managed by hybridinfra: do not edit, changes are overwritten
{{bin}} apply
