#!/usr/bin/env bash
# hybridinfra step lab-server-1/k3s-node-office-nas
HI_HOST=lab-server-1
HI_STEP=k3s-node-office-nas
# --- hybridinfra prelude: shared by every host step (managed by HybridInfra) ---
set -euo pipefail
umask 077
shopt -u patsub_replacement 2>/dev/null || true

HI_HOST="${HI_HOST:-unknown-host}"
HI_STEP="${HI_STEP:-unknown-step}"
HI_MARKER="managed by hybridinfra"
declare -A HI_SECRETS=()
HI_CHANGED=0
HI_TMPFILES=()
hi_cleanup() { if [ "${#HI_TMPFILES[@]}" -gt 0 ]; then rm -f "${HI_TMPFILES[@]}"; fi; }
trap hi_cleanup EXIT

hi_log() { printf '[%s/%s] %s\n' "$HI_HOST" "$HI_STEP" "$*"; }
hi_warn() { printf '[%s/%s] warning: %s\n' "$HI_HOST" "$HI_STEP" "$*" >&2; }
hi_fail() {
  printf '[%s/%s] error: %s\n' "$HI_HOST" "$HI_STEP" "$*" >&2
  exit 1
}

# Reads "name base64value" lines from stdin into HI_SECRETS. Secrets never reach argv or the log.
hi_read_secrets() {
  local name value
  while IFS=' ' read -r name value || [ -n "${name:-}" ]; do
    [ -n "$name" ] || continue
    HI_SECRETS["$name"]="$(printf '%s' "$value" | base64 -d)"
  done
}

hi_secret() {
  [ -n "${HI_SECRETS[$1]+set}" ] || hi_fail "secret '$1' was not passed on stdin (this is a bug in HybridInfra)"
  printf '%s' "${HI_SECRETS[$1]}"
}

# Facts first: OS, package manager and init system. An unsupported host fails here, before any change.
hi_detect() {
  local kernel os_id="unknown" os_like=""
  kernel="$(uname -s)"
  [ "$kernel" = "Linux" ] || hi_fail "host $HI_HOST is not supported: kernel '$kernel' (only Linux hosts can join); nothing was changed"
  if [ -r /etc/os-release ]; then
    # shellcheck disable=SC1091
    os_id="$(. /etc/os-release && printf '%s' "${ID:-unknown}")"
    # shellcheck disable=SC1091
    os_like="$(. /etc/os-release && printf '%s' "${ID_LIKE:-}")"
  fi
  HI_OS_ID="$os_id"
  if command -v apt-get >/dev/null 2>&1; then HI_PKG=apt
  elif command -v dnf >/dev/null 2>&1; then HI_PKG=dnf
  elif command -v apk >/dev/null 2>&1; then HI_PKG=apk
  else
    hi_fail "host $HI_HOST is not supported: OS '$os_id'${os_like:+ (like $os_like)} has none of the package managers apt, dnf or apk; supported are Debian/Ubuntu, RHEL-like and Alpine; nothing was changed"
  fi
  if [ -d /run/systemd/system ]; then HI_INIT=systemd
  elif command -v openrc >/dev/null 2>&1 || [ -d /run/openrc ]; then HI_INIT=openrc
  else
    HI_INIT=none
  fi
  HI_ARCH="$(uname -m)"
  export HI_OS_ID HI_PKG HI_INIT HI_ARCH
}

hi_pkg_installed() {
  case "$HI_PKG" in
    apt) dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed' ;;
    dnf) rpm -q "$1" >/dev/null 2>&1 ;;
    apk) apk info -e "$1" >/dev/null 2>&1 ;;
  esac
}

# Installs only the packages that are missing.
hi_pkg_install() {
  local missing=() p
  for p in "$@"; do hi_pkg_installed "$p" || missing+=("$p"); done
  [ "${#missing[@]}" -gt 0 ] || { hi_log "packages present: $*"; return 0; }
  hi_log "installing: ${missing[*]}"
  case "$HI_PKG" in
    apt) DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" ;;
    dnf) dnf install -y -q "${missing[@]}" ;;
    apk) apk add --no-cache -q "${missing[@]}" ;;
  esac
  HI_CHANGED=1
}

# hi_ensure_cmd COMMAND PKG_APT PKG_DNF PKG_APK: installs a package only when the command is missing.
hi_ensure_cmd() {
  local cmd="$1"
  if command -v "$cmd" >/dev/null 2>&1; then hi_log "$cmd present"; return 0; fi
  case "$HI_PKG" in
    apt) hi_pkg_install "$2" ;;
    dnf) hi_pkg_install "$3" ;;
    apk) hi_pkg_install "$4" ;;
  esac
  command -v "$cmd" >/dev/null 2>&1 || hi_fail "'$cmd' is still missing after installing its package"
}

# hi_write_file PATH MODE OWNER COMMENT_PREFIX < content
# Writes through a temp file in the same directory and renames it into place, so a reader never sees
# half a file. Placeholders @@HI_SECRET:name@@ are filled from stdin secrets on the host only.
# Prints "changed" or "unchanged"; sets HI_CHANGED=1 when the file changed.
hi_write_file() {
  local path="$1" mode="$2" owner="$3" prefix="$4" dir tmp content name
  dir="$(dirname "$path")"
  mkdir -p "$dir"
  content="$(cat)"
  for name in "${!HI_SECRETS[@]}"; do
    content="${content//@@HI_SECRET:${name}@@/${HI_SECRETS[$name]}}"
  done
  case "$content" in *@@HI_SECRET:*) hi_fail "$path: a secret placeholder was not filled (bug in HybridInfra)" ;; esac
  tmp="$(mktemp "$dir/.hybridinfra.XXXXXX")"
  HI_TMPFILES+=("$tmp")
  {
    if [ -n "$prefix" ]; then printf '%s %s: do not edit, changes are overwritten\n' "$prefix" "$HI_MARKER"; fi
    printf '%s\n' "$content"
  } >"$tmp"
  chmod "$mode" "$tmp"
  chown "$owner" "$tmp"
  if [ -f "$path" ] && cmp -s "$tmp" "$path" && [ "$(stat -c '%a %U:%G' "$path")" = "$(stat -c '%a %U:%G' "$tmp")" ]; then
    rm -f "$tmp"
    hi_log "unchanged $path"
    return 0
  fi
  mv -f "$tmp" "$path"
  hi_log "changed $path"
  HI_CHANGED=1
}

# Removes a file only when it carries the managed marker (never a file the user wrote).
hi_remove_managed_file() {
  local path="$1"
  [ -e "$path" ] || { hi_log "already absent $path"; return 0; }
  if grep -q "$HI_MARKER" "$path" 2>/dev/null || [ "${2:-}" = "--any" ]; then
    rm -f "$path"
    hi_log "removed $path"
  else
    hi_warn "kept $path: it is not managed by hybridinfra"
  fi
}

# Enables and starts a service with the host's init system.
hi_service_enable() {
  local svc="$1"
  case "$HI_INIT" in
    systemd)
      systemctl is-enabled --quiet "$svc" 2>/dev/null || { systemctl enable "$svc" >/dev/null; HI_CHANGED=1; hi_log "enabled $svc"; }
      systemctl is-active --quiet "$svc" || { systemctl start "$svc"; HI_CHANGED=1; hi_log "started $svc"; } ;;
    openrc)
      rc-update show default 2>/dev/null | grep -q "^ *$svc " || { rc-update add "$svc" default >/dev/null; HI_CHANGED=1; hi_log "enabled $svc"; }
      rc-service "$svc" status >/dev/null 2>&1 || { rc-service "$svc" start; HI_CHANGED=1; hi_log "started $svc"; } ;;
    none)
      hi_warn "no init system found (systemd or OpenRC); $svc is not enabled at boot" ;;
  esac
}

hi_service_disable() {
  local svc="$1"
  case "$HI_INIT" in
    systemd) systemctl disable --now "$svc" >/dev/null 2>&1 || true ;;
    openrc) rc-service "$svc" stop >/dev/null 2>&1 || true; rc-update del "$svc" default >/dev/null 2>&1 || true ;;
    none) true ;;
  esac
}

hi_done() {
  if [ "$HI_CHANGED" = 1 ]; then hi_log "done (changed)"; else hi_log "done (no change)"; fi
}
# --- end of prelude ---
hi_detect
PATH="/usr/local/bin:$PATH"
k3s_node=office-nas
# after k3s (channel) with config.yaml revision 9ae783674536d542: a change re-runs this step
k3s_deadline=$(( $(date +%s) + 600 ))
until k3s kubectl get node "$k3s_node" >/dev/null 2>&1; do
  [ "$(date +%s)" -lt "$k3s_deadline" ] || hi_fail "node $k3s_node did not register within 600s; check k3s on $k3s_node and that it reaches this server over the overlay"
  sleep 5
done
k3s kubectl wait --for=condition=Ready "node/$k3s_node" --timeout=600s >/dev/null || hi_fail "node $k3s_node is registered but not Ready after 600s"
k3s kubectl label node "$k3s_node" --overwrite topology.kubernetes.io/region=office hybridinfra.dev/storage=nas >/dev/null
k3s kubectl annotate node "$k3s_node" --overwrite hybridinfra.dev/k3s-config-revision=9ae783674536d542 >/dev/null
if [ "$(k3s kubectl get node "$k3s_node" -o jsonpath='{.spec.unschedulable}')" = true ]; then k3s kubectl uncordon "$k3s_node" >/dev/null; hi_log "uncordoned $k3s_node"; HI_CHANGED=1; fi
hi_log "node $k3s_node is Ready"
hi_done