K3S_ROLE=server
K3S_SERVICE=k3s
K3S_WANT_VERSION=v1.36.1+k3s1
K3S_INSTALLER_URL=https://get.k3s.io
PATH="/usr/local/bin:$PATH"
[ -f /etc/rancher/k3s/config.yaml ] || hi_fail "/etc/rancher/k3s/config.yaml is missing (the k3s-config step must run first); nothing was changed"
[ "$HI_INIT" != none ] || hi_fail "k3s runs as a systemd or OpenRC service and host $HI_HOST has neither; nothing was changed"
k3s_installed=""
if [ -x /usr/local/bin/k3s ]; then k3s_installed="$(/usr/local/bin/k3s --version 2>/dev/null | awk 'NR == 1 { print $3 }')" || k3s_installed=""; fi
want_sum="$(sha256sum /etc/rancher/k3s/config.yaml | awk '{ print $1 }')"
have_sum="$(cat /var/lib/rancher/hybridinfra/k3s-config.sha256 2>/dev/null || true)"
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
fi
if [ -n "$k3s_reason" ]; then
  hi_log "installing k3s $K3S_ROLE ($k3s_reason)"
  hi_ensure_cmd curl curl curl curl
  k3s_installer="$(mktemp "${TMPDIR:-/tmp}/k3s-install.XXXXXX")"
  HI_TMPFILES+=("$k3s_installer")
  curl -sfL --retry 3 -o "$k3s_installer" "$K3S_INSTALLER_URL" || hi_fail "could not download the k3s installer from $K3S_INSTALLER_URL"
  env INSTALL_K3S_EXEC="$K3S_ROLE" INSTALL_K3S_VERSION=v1.36.1+k3s1 sh "$k3s_installer"
  HI_CHANGED=1
elif [ "$want_sum" != "$have_sum" ]; then
  hi_log "/etc/rancher/k3s/config.yaml changed since $K3S_SERVICE last started: restarting $K3S_SERVICE"
  case "$HI_INIT" in
    systemd) systemctl restart "$K3S_SERVICE" ;;
    openrc) rc-service "$K3S_SERVICE" restart ;;
  esac
  HI_CHANGED=1
else
  hi_log "k3s $k3s_installed is installed and running with the current config.yaml"
fi
hi_service_enable "$K3S_SERVICE"
k3s_deadline=$(( $(date +%s) + 300 ))
until k3s kubectl get --raw=/readyz >/dev/null 2>&1; do
  [ "$(date +%s)" -lt "$k3s_deadline" ] || hi_fail "the k3s API did not become ready within 300s; see journalctl -u $K3S_SERVICE"
  sleep 3
done
mkdir -p "$(dirname /var/lib/rancher/hybridinfra/k3s-config.sha256)"
printf '%s\n' "$want_sum" >/var/lib/rancher/hybridinfra/k3s-config.sha256
hi_log "k3s $K3S_ROLE is up"