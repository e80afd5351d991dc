# --- bash of the k3s-drain-<host> step, run on the first server before the node's install step (rendered by scripts.ts; templates: see ../host/shellTemplate.ts) ---
# A body runs after the host prelude (components/src/host/prelude.sh): hi_* functions, HI_CHANGED.
# {{drain}} is the `kubectl drain` arguments node removal uses too (nodeRemovalKubectlArgs); {{revision-path}}
# the jsonpath of the revision annotation the k3s-node step writes.

# @template drain
PATH="/usr/local/bin:$PATH"
k3s_node={{node}}
k3s_want_version={{version}}
k3s_want_revision={{revision}}
if ! k3s kubectl get node "$k3s_node" >/dev/null 2>&1; then
  hi_log "node $k3s_node is not registered yet: nothing to drain"
  exit 0
fi
k3s_have_version="$(k3s kubectl get node "$k3s_node" -o jsonpath='{.status.nodeInfo.kubeletVersion}')"
k3s_have_revision="$(k3s kubectl get node "$k3s_node" -o jsonpath='{.metadata.annotations.{{revision-path}}}')"
k3s_why=""
if [ -n "$k3s_want_version" ] && [ "$k3s_have_version" != "$k3s_want_version" ]; then k3s_why="upgrade from $k3s_have_version to $k3s_want_version"
elif [ -n "$k3s_have_revision" ] && [ "$k3s_have_revision" != "$k3s_want_revision" ]; then k3s_why="config.yaml changed (revision $k3s_have_revision to $k3s_want_revision)"
fi
if [ -z "$k3s_why" ]; then
  hi_log "node $k3s_node: nothing to upgrade or restart, not draining"
  exit 0
fi
k3s_others="$(k3s kubectl get nodes --no-headers | awk -v n="$k3s_node" '$1 != n && $2 == "Ready" { c++ } END { print c + 0 }')"
if [ "$k3s_others" -eq 0 ]; then
  hi_log "node $k3s_node ($k3s_why): no other schedulable Ready node to move its pods to, not draining"
  exit 0
fi
hi_log "cordoning and draining $k3s_node before its k3s restart ($k3s_why)"
k3s kubectl {{drain}} || hi_fail "drain of $k3s_node did not finish within {{timeout}}s: a PodDisruptionBudget blocks an eviction (kubectl get pdb -A) or a pod does not stop; the roll stops here: $k3s_node stays cordoned and nothing was upgraded; fix that, then run pulumi up again (or kubectl uncordon $k3s_node to give up)"
HI_CHANGED=1
