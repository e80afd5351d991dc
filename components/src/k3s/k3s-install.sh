# --- bash of the k3s-install step and its delete (rendered by scripts.ts; templates: see ../host/shellTemplate.ts) ---
# A body runs after the host prelude (components/src/host/prelude.sh): hi_* functions, HI_INIT, HI_CHANGED.
# The install template's blocks, from scripts.ts: revision (a comment with the config.yaml revision, so a
# config change re-runs the step), installer-url (K3S_INSTALLER_URL, unless the installer was uploaded),
# airgap-binary-check (an elif: the uploaded binary differs from the installed one), airgap-upload, installer
# (installer-download, or k3s_installer set to the uploaded installer) and ready (ready-server or ready-agent).
# The installer gets no flags and no K3S_URL/K3S_TOKEN: everything is in config.yaml, so re-running it cannot
# drop settings. install(1) writes a new inode, so a running k3s binary is never overwritten in place.

# @template install
# @insert revision
K3S_ROLE={{role}}
K3S_SERVICE={{service}}
K3S_WANT_VERSION={{version}}
# @insert installer-url
PATH="/usr/local/bin:$PATH"
[ -f {{config}} ] || hi_fail "{{config}} is missing (the k3s-config step must run first); nothing was changed"
[ "$HI_INIT" != none ] || hi_fail "k3s runs as a systemd or OpenRC service and host $HI_HOST has neither; nothing was changed"
k3s_installed=""
if [ -x /usr/local/bin/k3s ]; then k3s_installed="$(/usr/local/bin/k3s --version 2>/dev/null | awk 'NR == 1 { print $3 }')" || k3s_installed=""; fi
want_sum="$(sha256sum {{config}} | awk '{ print $1 }')"
have_sum="$(cat {{applied-sum}} 2>/dev/null || true)"
k3s_service_present() {
  case "$HI_INIT" in
    systemd) [ -f "/etc/systemd/system/$K3S_SERVICE.service" ] ;;
    openrc) [ -f "/etc/init.d/$K3S_SERVICE" ] ;;
    *) false ;;
  esac
}
k3s_reason=""
if [ -z "$k3s_installed" ]; then k3s_reason="k3s is not installed"
elif ! k3s_service_present; then k3s_reason="the $K3S_SERVICE service is missing"
elif [ -n "$K3S_WANT_VERSION" ] && [ "$k3s_installed" != "$K3S_WANT_VERSION" ]; then k3s_reason="upgrade from $k3s_installed to $K3S_WANT_VERSION"
# @insert airgap-binary-check
fi
if [ -n "$k3s_reason" ]; then
  hi_log "installing k3s $K3S_ROLE ($k3s_reason)"
# @insert airgap-upload
# @insert installer
  env INSTALL_K3S_EXEC="$K3S_ROLE" {{installer-env}} sh "$k3s_installer"
  HI_CHANGED=1
elif [ "$want_sum" != "$have_sum" ]; then
  hi_log "{{config}} changed since $K3S_SERVICE last started: restarting $K3S_SERVICE"
  case "$HI_INIT" in
    systemd) systemctl restart "$K3S_SERVICE" ;;
    openrc) rc-service "$K3S_SERVICE" restart ;;
  esac
  HI_CHANGED=1
else
  hi_log "k3s $k3s_installed is installed and running with the current config.yaml"
fi
hi_service_enable "$K3S_SERVICE"
# @insert ready
mkdir -p "$(dirname {{applied-sum}})"
printf '%s\n' "$want_sum" >{{applied-sum}}
hi_log "k3s $K3S_ROLE is up"

# @template airgap-upload
  [ -s {{binary}} ] || hi_fail "the air-gap k3s binary was not uploaded to {{binary}}"
  [ -s {{images}} ] || hi_fail 'the air-gap images were not uploaded to {{images-text}}'
  install -m 0755 {{binary}} /usr/local/bin/k3s

# @template installer-download
  hi_ensure_cmd curl curl curl curl
  k3s_installer="$(mktemp "${TMPDIR:-/tmp}/k3s-install.XXXXXX")"
  HI_TMPFILES+=("$k3s_installer")
  curl -sfL --retry 3 -o "$k3s_installer" "$K3S_INSTALLER_URL" || hi_fail "could not download the k3s installer from $K3S_INSTALLER_URL"

# @template ready-server
k3s_deadline=$(( $(date +%s) + {{timeout}} ))
until k3s kubectl get --raw=/readyz >/dev/null 2>&1; do
  [ "$(date +%s)" -lt "$k3s_deadline" ] || hi_fail "the k3s API did not become ready within {{timeout}}s; see journalctl -u $K3S_SERVICE"
  sleep 3
done

# @template ready-agent
k3s_deadline=$(( $(date +%s) + {{timeout}} ))
k3s_service_active() {
  case "$HI_INIT" in
    systemd) systemctl is-active --quiet "$K3S_SERVICE" ;;
    openrc) rc-service "$K3S_SERVICE" status >/dev/null 2>&1 ;;
  esac
}
until k3s_service_active; do
  [ "$(date +%s)" -lt "$k3s_deadline" ] || hi_fail "$K3S_SERVICE did not start within {{timeout}}s; see journalctl -u $K3S_SERVICE"
  sleep 3
done

# @template uninstall
if [ -x {{uninstaller}} ]; then
  hi_log "uninstalling k3s {{role}}"
  {{uninstaller}}
  HI_CHANGED=1
else
  hi_log "k3s {{role}} is not installed ({{uninstaller}} is absent)"
fi
rm -f {{applied-sum}}
