# --- bash of the k3s-kubeconfig step, on the first server (rendered by scripts.ts; templates: see ../host/shellTemplate.ts) ---
# It prints k3s.yaml between the markers {{begin}} and {{end}} (the prelude's log lines share stdout), which
# extractKubeconfig (kubeconfig.ts) finds.

# @template kubeconfig
k3s_deadline=$(( $(date +%s) + {{timeout}} ))
until [ -s {{kubeconfig}} ]; do
  [ "$(date +%s)" -lt "$k3s_deadline" ] || hi_fail "{{kubeconfig}} did not appear within {{timeout}}s"
  sleep 2
done
printf '%s\n' {{begin}}
cat {{kubeconfig}}
printf '%s\n' {{end}}
