# --- bash of the ingress-forward step and its delete (rendered by render.ts; templates: see ../host/shellTemplate.ts) ---
# A body runs after the host prelude (components/src/host/prelude.sh): hi_* functions, HI_INIT, HI_CHANGED.
# The create installs the rule script (forward-script.sh) and a boot hook, enables forwarding and applies the
# rules now; its blocks, from render.ts, are the file writes (the rule script's without a marker header: the
# script carries its own after the shebang, which hi_remove_managed_file finds). The delete removes exactly
# this step's jumps and chains (its blocks: forward-script.sh's functions and remove, indented), its boot hook
# and files. ip_forward stays on: the overlay's hub may route through this node too; only our drop-in goes.

# @template create
hi_ensure_cmd iptables iptables iptables iptables
hi_ensure_cmd ip iproute2 iproute iproute2
hi_ensure_cmd sysctl procps procps-ng procps
# @insert sysctl-file
# @insert script-file
case "$HI_INIT" in
  systemd)
# @insert unit-file
    if [ "$HI_CHANGED" = 1 ]; then systemctl daemon-reload; fi
    systemctl is-enabled --quiet hybridinfra-ingress-forward.service 2>/dev/null || { systemctl enable hybridinfra-ingress-forward.service >/dev/null; HI_CHANGED=1; hi_log "enabled hybridinfra-ingress-forward.service"; } ;;
  openrc)
# @insert boot-file
    hi_service_enable local ;;
  none)
    hi_warn "no init system found: the forward rules are not restored after a reboot" ;;
esac
HI_FWD_OUT="$(HI_FWD_WAIT=0 bash {{bin}} apply)"
printf '%s\n' "$HI_FWD_OUT"
case "$HI_FWD_OUT" in *"changed:"*) HI_CHANGED=1 ;; esac

# @template delete
hi_log "removing the ingress forward"
case "$HI_INIT" in
  systemd)
    systemctl disable hybridinfra-ingress-forward.service >/dev/null 2>&1 || true
    hi_remove_managed_file {{unit}}
    systemctl daemon-reload ;;
  *) true ;;
esac
hi_remove_managed_file {{openrc}}
if command -v iptables >/dev/null 2>&1; then
# @insert functions
# @insert remove
else
  hi_log "iptables is absent: no rules to remove"
fi
hi_remove_managed_file {{bin}}
hi_remove_managed_file {{sysctl}}
