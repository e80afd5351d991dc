# --- the WireGuard watchdog script a wg-config step installs (renderWatchdogScript in scripts.ts; templates: see ../host/shellTemplate.ts) ---
# Its peers block lists the peers it probes, one `name public-key overlay-address` a line.

# @template watchdog
#!/usr/bin/env bash
# managed by hybridinfra: do not edit, changes are overwritten
# Watchdog of WireGuard {{interface}}: brings it up when it is gone, and starts a new handshake with a peer
# it dials when that peer stopped answering (it restarted and lost the session). Prints what it repaired.
# Usage: $0 (one run), or $0 --every SECONDS (runs forever, as the OpenRC service does).
set -u
if [ "${1:-}" = --every ]; then
  while :; do "$0"; sleep "$2"; done
fi
IF={{if}}
CONF={{conf}}
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
# @insert peers
HI_PEERS
exit 0
