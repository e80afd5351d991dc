# --- bash of the Tailscale ts-install step (rendered by render.ts; templates: see ../host/shellTemplate.ts) ---
# A body runs after the host prelude (components/src/host/prelude.sh): hi_* functions, HI_PKG, HI_CHANGED.
# tailscale is installed only when missing (official packages), then tailscaled is enabled.

# @template install
if command -v tailscale >/dev/null 2>&1 && command -v tailscaled >/dev/null 2>&1; then
  hi_log "tailscale present: $(tailscale version | head -n 1)"
else
  case "$HI_PKG" in
    apk) hi_pkg_install tailscale ;;
    *)
      hi_ensure_cmd curl curl curl curl
      hi_log "installing tailscale with the official install script"
      curl -fsSL https://tailscale.com/install.sh | sh
      HI_CHANGED=1 ;;
  esac
fi
hi_service_enable tailscaled
