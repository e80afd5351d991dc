# --- bash of node removal, run on the first server (rendered by scripts.ts; templates: see ../host/shellTemplate.ts) ---
# Two uses: the delete of the k3s-node-<host> step, and the node-removal-<host> step of `hosts[i].remove`.
# A body runs after the host prelude (components/src/host/prelude.sh): hi_* functions, HI_CHANGED.
# {{drain}} and {{delete-node}} are the kubectl arguments of nodeRemovalKubectlArgs; the on-timeout block
# (from scripts.ts) warns and goes on, or fails the step.

# @template remove
PATH="/usr/local/bin:$PATH"
k3s_node={{node}}
if ! command -v k3s >/dev/null 2>&1; then
  hi_warn "k3s is not installed on this server; node $k3s_node cannot be drained here"
elif k3s kubectl get node "$k3s_node" >/dev/null 2>&1; then
  hi_log "draining $k3s_node"
  if ! k3s kubectl {{drain}}; then
# @insert on-timeout
  fi
  k3s kubectl {{delete-node}}
  HI_CHANGED=1
else
  hi_log "node $k3s_node is not in the cluster (already removed)"
fi
