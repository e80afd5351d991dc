# --- bash of the k3s-node-<host> step, run on the first server (rendered by scripts.ts; templates: see ../host/shellTemplate.ts) ---
# A body runs after the host prelude (components/src/host/prelude.sh): hi_* functions, HI_CHANGED.
# The ready template's blocks, from scripts.ts: rolled-note (a comment with the version and config.yaml
# revision, so a roll re-runs the step), labels (`k3s kubectl label`, when the node has labels: k3s applies
# node-label only when a node registers) and rolled (after a roll: the version check, the revision annotation
# the k3s-drain step reads, and the uncordon). Its delete is node removal (node-remove.sh).

# @template ready
PATH="/usr/local/bin:$PATH"
k3s_node={{node}}
# @insert rolled-note
k3s_deadline=$(( $(date +%s) + {{timeout}} ))
until k3s kubectl get node "$k3s_node" >/dev/null 2>&1; do
  [ "$(date +%s)" -lt "$k3s_deadline" ] || hi_fail "node $k3s_node did not register within {{timeout}}s; check k3s on $k3s_node and that it reaches this server over the overlay"
  sleep 5
done
k3s kubectl wait --for=condition=Ready "node/$k3s_node" --timeout={{timeout}}s >/dev/null || hi_fail "node $k3s_node is registered but not Ready after {{timeout}}s"
# @insert labels
# @insert rolled
hi_log "node $k3s_node is Ready"

# @template rolled
# @insert version-check
k3s kubectl annotate node "$k3s_node" --overwrite {{annotation}} >/dev/null
if [ "$(k3s kubectl get node "$k3s_node" -o jsonpath='{.spec.unschedulable}')" = true ]; then k3s kubectl uncordon "$k3s_node" >/dev/null; hi_log "uncordoned $k3s_node"; HI_CHANGED=1; fi

# @template version-check
k3s_version="$(k3s kubectl get node "$k3s_node" -o jsonpath='{.status.nodeInfo.kubeletVersion}')"
[ "$k3s_version" = {{want}} ] || hi_fail "node $k3s_node is Ready but runs $k3s_version, not {{version}}: the upgrade did not take; the roll stops here and $k3s_node stays cordoned (see journalctl on $k3s_node)"
