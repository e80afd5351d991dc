# --- bash of the Tailscale ts-up step and its delete (rendered by render.ts; templates: see ../host/shellTemplate.ts) ---
# A body runs after the host prelude (components/src/host/prelude.sh): hi_* functions, hi_write_file, HI_CHANGED.
# The up template's blocks, from render.ts: auth-key-file (the key, 0600, from stdin), forwarding (on subnet
# routers: the sysctl file and IPv4 forwarding now) and accept-routes-note (why accept-routes is off here).
# {{args}} is `tailscale up`'s arguments (tailscaleUpArgs) as shell words, {{want-args}} the same text quoted:
# what the prefs file records. The last line is parsed by the component into the overlay address k3s uses as
# node-ip. The delete leaves the tailnet and removes the key; tailscale itself stays installed.

# @template up
# @insert auth-key-file
# @insert forwarding
want_routes={{routes}}
state="$(tailscale status --json 2>/dev/null | sed -n 's/^[[:space:]]*"BackendState":[[:space:]]*"\([A-Za-z]*\)".*/\1/p' | head -n 1 || true)"
prefs_file="/var/lib/hybridinfra/tailscale-up.args"
want_args={{want-args}}
# @insert accept-routes-note
if [ "$state" = "Running" ] && [ -f "$prefs_file" ] && [ "$(cat "$prefs_file")" = "$want_args" ]; then
  hi_log "tailscale already up with the same settings"
else
  hi_log "tailscale up (state: ${state:-none}; routes: ${want_routes:-none})"
  tailscale up {{args}}
  printf '%s\n' "$want_args" >"$prefs_file"
  HI_CHANGED=1
fi
ip link show {{interface}} >/dev/null 2>&1 || hi_fail "interface {{interface}} is missing after tailscale up"
addr="$(tailscale ip -4 | head -n 1)"
[ -n "$addr" ] || hi_fail "tailscale has no IPv4 address; check the auth key and the login server"
printf 'hybridinfra-address=%s\n' "$addr"

# @template forwarding
# @insert sysctl-file
if [ "$(sysctl -n net.ipv4.ip_forward)" != 1 ]; then sysctl -q -w net.ipv4.ip_forward=1; HI_CHANGED=1; fi

# @template down
if command -v tailscale >/dev/null 2>&1; then tailscale down || true; fi
hi_remove_managed_file {{auth-key-file}} --any
rm -f /var/lib/hybridinfra/tailscale-up.args
hi_remove_managed_file {{sysctl-file}}
