# --- the re-resolve script a wg-config step installs for DNS-name endpoints (renderReresolveScript in scripts.ts; templates: see ../host/shellTemplate.ts) ---
# Its peers block lists the peers with a DNS-name endpoint, one `public-key endpoint` a line.

# @template reresolve
#!/usr/bin/env bash
# managed by hybridinfra: do not edit, changes are overwritten
# Re-resolves the DNS-name endpoints of {{interface}}'s peers whose last handshake is older than {{after}} s.
set -u
IF={{if}}
handshakes="$(wg show "$IF" latest-handshakes 2>/dev/null)" || exit 0
now="$(date +%s)"
while read -r key endpoint; do
  [ -n "$key" ] || continue
  last="$(printf '%s\n' "$handshakes" | awk -v k="$key" '$1 == k { print $2 }')"
  [ -n "$last" ] || continue
  if [ $((now - last)) -gt {{after}} ]; then
    wg set "$IF" peer "$key" endpoint "$endpoint" || echo "could not resolve $endpoint for peer $key" >&2
  fi
done <<'HI_PEERS'
# @insert peers
HI_PEERS
