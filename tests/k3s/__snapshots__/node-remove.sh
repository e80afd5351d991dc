PATH="/usr/local/bin:$PATH"
k3s_node=home-pc
if ! command -v k3s >/dev/null 2>&1; then
  hi_warn "k3s is not installed on this server; node $k3s_node cannot be drained here"
elif k3s kubectl get node "$k3s_node" >/dev/null 2>&1; then
  hi_log "draining $k3s_node"
  if ! k3s kubectl drain "$k3s_node" --ignore-daemonsets --delete-emptydir-data --timeout=300s; then
    hi_warn "drain of $k3s_node did not finish within 300s (node unreachable or a PodDisruptionBudget blocks it); deleting the Node anyway"
  fi
  k3s kubectl delete node "$k3s_node" --timeout=120s
  HI_CHANGED=1
else
  hi_log "node $k3s_node is not in the cluster (already removed)"
fi