# --- bash of the k3s-token-rotate step and its delete (rendered by scripts.ts; templates: see ../host/shellTemplate.ts) ---
# A body runs after the host prelude (components/src/host/prelude.sh): hi_* functions, hi_secret, HI_CHANGED.
# The old token travels in K3S_TOKEN (the environment variable of `--token`). `--new-token` has no environment
# variable: the new token is in this command's argv while it runs (root's own process).

# @template rotate
# cluster token generation {{generation}} (k3s.tokenRotation): a new generation re-runs this step
PATH="/usr/local/bin:$PATH"
if [ ! -s {{server-token}} ] || ! command -v k3s >/dev/null 2>&1; then
  hi_log "no k3s cluster runs here yet: it will start with the new token, nothing to rotate"
else
  k3s_old_token="$(cat {{server-token}})"
  k3s_new_token="$(hi_secret {{secret}})"
  if [ "${k3s_old_token##*::server:}" = "$k3s_new_token" ] || [ "$k3s_old_token" = "$k3s_new_token" ]; then
    hi_log "k3s already runs with token generation {{generation}}"
  else
    k3s_deadline=$(( $(date +%s) + {{timeout}} ))
    until k3s kubectl get --raw=/readyz >/dev/null 2>&1; do
      [ "$(date +%s)" -lt "$k3s_deadline" ] || hi_fail "the k3s API is not ready after {{timeout}}s, so the token cannot be rotated; nothing was changed"
      sleep 3
    done
    hi_log "rotating the cluster token to generation {{generation}} (k3s token rotate)"
    K3S_TOKEN="$k3s_old_token" k3s token rotate --new-token "$k3s_new_token" >/dev/null ||
      hi_fail "k3s token rotate failed; the cluster keeps its old token and no node was restarted"
    HI_CHANGED=1
  fi
fi

# @template delete
hi_log "the cluster token stays rotated (a rotation cannot be undone); nothing to do"
