#!/usr/bin/env bash
# managed by hybridinfra: do not edit, changes are overwritten
# Backups of k3s's sqlite datastore, installed by HybridInfra's k3s-backup step (k3s.backup):
#   hybridinfra-k3s-backup            make a backup now (what the timer or cron job runs)
#   hybridinfra-k3s-backup list       list the backups here, oldest first
#   hybridinfra-k3s-backup restore F  put backup F in place of the datastore (k3s must be stopped first)
# A backup is SQLite's online backup of state.db (the sqlite3 shell's .backup: every page copied under one
# read transaction, so the copy is consistent while k3s writes), checked with PRAGMA integrity_check before it
# counts, then the oldest beyond BACKUP_RETENTION are removed, here and (with S3) in the bucket.
set -euo pipefail
umask 077
export LC_ALL=C

CONF="${HYBRIDINFRA_BACKUP_CONF:-/etc/rancher/k3s/hybridinfra-backup.env}"
log() { printf 'hybridinfra-k3s-backup: %s\n' "$*"; }
fail() {
  printf 'hybridinfra-k3s-backup: error: %s\n' "$*" >&2
  exit 1
}

[ -r "$CONF" ] || fail "$CONF is missing (HybridInfra's k3s-backup step writes it); nothing was done"
# shellcheck source=/dev/null
. "$CONF"
BACKUP_DB="${BACKUP_DB:?BACKUP_DB is not set in $CONF}"
BACKUP_DIR="${BACKUP_DIR:?BACKUP_DIR is not set in $CONF}"
BACKUP_NODE="${BACKUP_NODE:?BACKUP_NODE is not set in $CONF}"
BACKUP_RETENTION="${BACKUP_RETENTION:?BACKUP_RETENTION is not set in $CONF}"
S3_BUCKET="${S3_BUCKET:-}"
PREFIX="k3s-sqlite-${BACKUP_NODE}-"

command -v sqlite3 >/dev/null 2>&1 ||
  fail "sqlite3 is not installed on this host: install it (apt-get install sqlite3, dnf install sqlite, apk add sqlite) or run pulumi up again (the k3s-backup step installs it); nothing was done"

# integrity FILE: succeeds when PRAGMA integrity_check says "ok"; prints what it said otherwise.
integrity() {
  local out
  if ! out="$(sqlite3 -readonly "$1" 'PRAGMA integrity_check;' 2>&1)"; then
    printf '%s' "$out"
    return 1
  fi
  [ "$out" = ok ] || { printf '%s' "$out" | head -n 5; return 1; }
}

# The backups here, oldest first (the UTC timestamp in the name sorts them).
backups() {
  local f
  for f in "$BACKUP_DIR/$PREFIX"*.db; do [ -f "$f" ] && printf '%s\n' "$f"; done
  return 0
}

# --- S3 (path-style URLs, AWS Signature V4 by curl; the keys reach curl through a config on stdin) ---
s3_url() {
  local scheme=https
  [ "${S3_INSECURE:-false}" = true ] && scheme=http
  printf '%s://%s/%s/%s' "$scheme" "$S3_ENDPOINT" "$S3_BUCKET" "$1"
}
s3_key() { printf '%s%s' "${S3_FOLDER:+$S3_FOLDER/}" "$1"; }
s3_curl() {
  local secret
  secret="$(cat "$S3_SECRET_KEY_FILE")" || fail "cannot read the S3 secret key from $S3_SECRET_KEY_FILE"
  secret="${secret//\\/\\\\}"
  secret="${secret//\"/\\\"}"
  printf 'user = "%s:%s"\n' "$S3_ACCESS_KEY" "$secret" |
    curl -sS --fail --retry 3 --max-time 600 -K - --aws-sigv4 "aws:amz:${S3_REGION}:s3" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"
}
s3_upload() {
  local file="$1" key
  key="$(s3_key "$(basename "$file")")"
  s3_curl -o /dev/null -T "$file" "$(s3_url "$key")" || return 1
  log "uploaded $(basename "$file") to s3 bucket $S3_BUCKET as $key"
}
# Removes the oldest of this node's backups in the bucket beyond the retention.
s3_prune() {
  local listing keys=() n i
  local prefix
  prefix="$(s3_key "$PREFIX")"
  listing="$(s3_curl "$(s3_url "")?list-type=2&prefix=${prefix//\//%2F}")" || return 1
  mapfile -t keys < <(printf '%s' "$listing" | grep -o '<Key>[^<]*</Key>' | sed -e 's/^<Key>//' -e 's/<\/Key>$//' | grep '\.db$' | sort)
  n="${#keys[@]}"
  for ((i = 0; i < n - BACKUP_RETENTION; i++)); do
    s3_curl -o /dev/null -X DELETE "$(s3_url "${keys[$i]}")" || return 1
    log "removed old backup ${keys[$i]} from s3 bucket $S3_BUCKET"
  done
}

backup() {
  [ -f "$BACKUP_DB" ] || fail "$BACKUP_DB does not exist: k3s has not created its sqlite datastore here (is this the first server, and has k3s started?); nothing was done"
  mkdir -p "$BACKUP_DIR"
  chmod 0700 "$BACKUP_DIR"
  local stamp name tmp problem all n i
  stamp="$(date -u +%Y%m%dT%H%M%SZ)"
  name="${PREFIX}${stamp}.db"
  tmp="$BACKUP_DIR/.${name}.partial"
  # shellcheck disable=SC2064 # expand now: the trap removes this run's partial copy
  trap "rm -f '$tmp' '$tmp-wal' '$tmp-shm'" EXIT
  sqlite3 "$BACKUP_DB" ".timeout 60000" ".backup '$tmp'" ||
    fail "sqlite3 could not copy $BACKUP_DB (see the message above); the previous backups were kept"
  # The copy is one self-contained file: rollback journal instead of k3s's WAL (k3s turns WAL on again when it
  # opens a restored copy).
  sqlite3 "$tmp" "PRAGMA journal_mode=DELETE;" >/dev/null ||
    fail "sqlite3 could not finish the copy $tmp; the previous backups were kept"
  if ! problem="$(integrity "$tmp")"; then
    fail "the copy of $BACKUP_DB fails PRAGMA integrity_check ($problem): the datastore itself may be damaged; the copy was discarded and the previous backups were kept"
  fi
  mv -f "$tmp" "$BACKUP_DIR/$name"
  log "backed up $BACKUP_DB to $BACKUP_DIR/$name ($(wc -c <"$BACKUP_DIR/$name") bytes, integrity ok)"
  mapfile -t all < <(backups)
  n="${#all[@]}"
  for ((i = 0; i < n - BACKUP_RETENTION; i++)); do
    rm -f "${all[$i]}"
    log "removed old backup $(basename "${all[$i]}") (keeping $BACKUP_RETENTION)"
  done
  if [ -n "$S3_BUCKET" ]; then
    command -v curl >/dev/null 2>&1 || fail "curl is not installed, so $name was not uploaded to S3 (it is kept in $BACKUP_DIR)"
    s3_upload "$BACKUP_DIR/$name" || fail "the upload of $name to s3 bucket $S3_BUCKET at $S3_ENDPOINT failed (it is kept in $BACKUP_DIR)"
    s3_prune || fail "$name was uploaded, but removing old backups from s3 bucket $S3_BUCKET failed"
  fi
}

# Is k3s running here (its service, or any process holding the datastore open)?
k3s_running() {
  if [ -d /run/systemd/system ] && systemctl is-active --quiet k3s 2>/dev/null; then return 0; fi
  if command -v rc-service >/dev/null 2>&1 && rc-service k3s status >/dev/null 2>&1; then return 0; fi
  if command -v fuser >/dev/null 2>&1 && fuser "$BACKUP_DB" "$BACKUP_DB-wal" >/dev/null 2>&1; then return 0; fi
  return 1
}

restore() {
  local file="${1:-}" problem stamp aside ext tmp
  [ -n "$file" ] || fail "usage: hybridinfra-k3s-backup restore <backup file> (see: hybridinfra-k3s-backup list)"
  [ -f "$file" ] || fail "$file does not exist; nothing was changed"
  if ! problem="$(integrity "$file")"; then fail "$file fails PRAGMA integrity_check ($problem); nothing was changed: pick another backup"; fi
  if k3s_running; then
    fail "k3s is running or $BACKUP_DB is open: stop k3s first (systemctl stop k3s, or rc-service k3s stop); nothing was changed"
  fi
  stamp="$(date -u +%Y%m%dT%H%M%SZ)"
  aside="$BACKUP_DB.before-restore-$stamp"
  # The old -wal and -shm go aside with the database: SQLite would replay a stale WAL into the restored file.
  for ext in "" -wal -shm; do
    if [ -e "$BACKUP_DB$ext" ]; then mv -f "$BACKUP_DB$ext" "$aside$ext"; fi
  done
  mkdir -p "$(dirname "$BACKUP_DB")"
  tmp="$(dirname "$BACKUP_DB")/.state.db.restoring"
  cp "$file" "$tmp"
  chmod 0600 "$tmp"
  mv -f "$tmp" "$BACKUP_DB"
  if ! problem="$(integrity "$BACKUP_DB")"; then fail "the restored $BACKUP_DB fails PRAGMA integrity_check ($problem); the previous datastore is at $aside"; fi
  log "restored $file to $BACKUP_DB (integrity ok); the previous datastore is at $aside"
  log "now start k3s: systemctl start k3s (or rc-service k3s start)"
}

case "${1:-backup}" in
  backup) backup ;;
  list) backups ;;
  restore) restore "${2:-}" ;;
  *) fail "unknown command '$1' (use: backup, list, restore <file>)" ;;
esac
