# --- bash of the k3s-backup step of a sqlite server and its delete (rendered by backup.ts; templates: see ../host/shellTemplate.ts) ---
# A body runs after the host prelude (components/src/host/prelude.sh): hi_* functions, HI_INIT, HI_CHANGED.
# The backup script it installs is k3s-sqlite-backup.sh (a plain script); its settings file and the systemd
# units are rendered by backup.ts. The step's blocks, from backup.ts: s3-tools (when backups go to S3),
# the four file writes, and crontab: k3s_backup_crontab prints root's crontab without our block (then, with
# crontab-entry, our block at the end), and crontab-write installs that (crontab-write-if-ours in the delete:
# only when our block is there). --aws-sigv4 came with curl 7.75 (2021): older curl would upload
# nothing. The first backup is made by the schedule, not here.

# @template step
# k3s.backup: {{schedule}}, keep {{retention}}, in {{dir}}{{s3-note}}
hi_ensure_cmd sqlite3 sqlite3 sqlite sqlite
# @insert s3-tools
# @insert script-file
# @insert settings-file
# @insert s3-key-file
[ -f {{k3s-db}} ] || hi_warn "{{k3s-db}} does not exist yet: backups start once k3s has created it"
case "$HI_INIT" in
  systemd)
    k3s_backup_changed=$HI_CHANGED; HI_CHANGED=0
# @insert service-file
# @insert timer-file
    if [ "$HI_CHANGED" = 1 ]; then systemctl daemon-reload; systemctl restart {{unit}}.timer 2>/dev/null || true; fi
    if [ "$k3s_backup_changed" = 1 ]; then HI_CHANGED=1; fi
    if ! systemctl is-enabled --quiet {{unit}}.timer 2>/dev/null || ! systemctl is-active --quiet {{unit}}.timer 2>/dev/null; then
      systemctl enable --now {{unit}}.timer >/dev/null 2>&1
      HI_CHANGED=1
    fi
    hi_log "{{unit}}.timer backs up {{db}} on {{calendar}} (systemd calendar)" ;;
  openrc)
# @insert crontab
    hi_service_enable crond
    hi_log "root's crontab backs up {{db}} on {{schedule}}" ;;
  *)
    hi_warn "no init system (systemd or OpenRC): nothing runs {{script}} on its own; run it from your scheduler ({{schedule}})" ;;
esac

# @template s3-tools
hi_ensure_cmd curl curl curl curl
curl --help all 2>/dev/null | grep -q -- --aws-sigv4 || hi_fail "curl on $HI_HOST has no --aws-sigv4 (curl 7.75 or later is needed to upload backups to S3); nothing was changed"

# @template crontab
k3s_backup_crontab() {
  if [ -f {{crontab}} ]; then awk -v b={{begin}} -v e={{end}} '$0 == b { skip = 1; next } $0 == e { skip = 0; next } !skip' {{crontab}}; fi
# @insert entry
}
# @insert write

# @template crontab-entry
  printf '%s\n' {{begin}} {{entry}} {{end}}

# @template crontab-write
k3s_backup_crontab | hi_write_file {{crontab}} 0600 root:root ""

# @template crontab-write-if-ours
if [ -f {{crontab}} ] && grep -qxF {{begin}} {{crontab}}; then k3s_backup_crontab | hi_write_file {{crontab}} 0600 root:root ""; fi

# @template delete
if [ "$HI_INIT" = systemd ]; then
  systemctl disable --now {{unit}}.timer >/dev/null 2>&1 || true
  hi_remove_managed_file /etc/systemd/system/{{unit}}.timer
  hi_remove_managed_file /etc/systemd/system/{{unit}}.service
  systemctl daemon-reload
fi
# @insert crontab
hi_remove_managed_file {{script}}
hi_remove_managed_file {{conf}}
hi_remove_managed_file {{s3-key-file}} --any
hi_log 'the backups in {{dir}} are kept (remove them by hand when no longer needed)'
