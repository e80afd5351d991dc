# cluster token generation 2 (k3s.tokenRotation): a new generation re-runs this step
PATH="/usr/local/bin:$PATH"
if [ ! -s /var/lib/rancher/k3s/server/token ] || ! command -v k3s >/dev/null 2>&1; then
  hi_log "no k3s cluster runs here yet: it will start with the new token, nothing to rotate"
else
  k3s_old_token="$(cat /var/lib/rancher/k3s/server/token)"
  k3s_new_token="$(hi_secret k3s_token)"
  if [ "${k3s_old_token##*::server:}" = "$k3s_new_token" ] || [ "$k3s_old_token" = "$k3s_new_token" ]; then
    hi_log "k3s already runs with token generation 2"
  else
    k3s_deadline=$(( $(date +%s) + 120 ))
    until k3s kubectl get --raw=/readyz >/dev/null 2>&1; do
      [ "$(date +%s)" -lt "$k3s_deadline" ] || hi_fail "the k3s API is not ready after 120s, so the token cannot be rotated; nothing was changed"
      sleep 3
    done
    hi_log "rotating the cluster token to generation 2 (k3s token rotate)"
    K3S_TOKEN="$k3s_old_token" k3s token rotate --new-token "$k3s_new_token" >/dev/null ||
      hi_fail "k3s token rotate failed; the cluster keeps its old token and no node was restarted"
    HI_CHANGED=1
  fi
fi