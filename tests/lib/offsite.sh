# Off-site stores for kdr's tests, on loopback only: a local restic repository, restic's REST
# protocol through `rclone serve restic` (Debian's rclone), and sftp through a private sshd
# (tests/lib/sshd.sh: Debian's openssh-server with its own configuration, a high port and key
# authentication). Sourced after scenario.sh.
#
#   offsite_config REPO [RESTIC_ARGV_YAML]  kdr.yaml of $ROOT: offsite.repository REPO (and the
#                                            restic argv), metrics into /var/lib/metrics, the
#                                            password in /etc/kdr/restic-password (0600);
#                                            $OFFSITE_SETTINGS: more lines of offsite:,
#                                            $OFFSITE_MORE_CONFIG: more of the config
#   restic_own ARGS...                       restic itself on that repository (no kdr)
#   rest_start DIR [RCLONE FLAGS...]         `rclone serve restic` of DIR/store; prints its URL
#   rest_stop DIR                            kills it (SIGKILL: a server that dies)
#   sftp_start DIR                           a private sshd taking a new key; prints the restic
#                                            argv (YAML) that reaches it, the repository is
#                                            sftp:root@127.0.0.1:<path>
#   offsite_metric NAME                      a value of kdr_offsite.prom
#   as_host NAME CMD...                      CMD on a machine named NAME (another node)

OFFSITE_RESTIC_ARGV='[restic]'
OFFSITE_REPO=''
# rest_start runs in $(...): the servers' pids are kept in a file, stopped when the scenario ends.
_REST_PID_FILE=$T/.rest-pids
rest_stop_all() {
  local pid
  for pid in $(cat "$_REST_PID_FILE" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  rm -f "$_REST_PID_FILE"
}
SCENARIO_CLEANUPS+=(rest_stop_all)

offsite_config() {
  OFFSITE_REPO=$1
  OFFSITE_RESTIC_ARGV=${2:-[restic]}
  mkdir -p "$ROOT/etc/kdr" "$ROOT/var/lib/metrics"
  printf 'offsite:\n  repository: %s\n  restic: %s\n%smetrics:\n  textfile_dir: /var/lib/metrics\n%s' \
    "$OFFSITE_REPO" "$OFFSITE_RESTIC_ARGV" "${OFFSITE_SETTINGS:-}" "${OFFSITE_MORE_CONFIG:-}" > "$ROOT/etc/kdr/kdr.yaml"
  [ -f "$ROOT/etc/kdr/restic-password" ] || echo "correct horse battery staple" > "$ROOT/etc/kdr/restic-password"
  chmod 600 "$ROOT/etc/kdr/restic-password"
}

restic_own() {
  local argv
  mapfile -t argv < <(tr -d '[]' <<<"$OFFSITE_RESTIC_ARGV" | tr ',' '\n' | sed 's/^ *//; s/ *$//; s/^"//; s/"$//')
  RESTIC_PASSWORD_FILE=$ROOT/etc/kdr/restic-password "${argv[@]}" -r "$OFFSITE_REPO" "$@"
}

offsite_metric() { sed -n "s/^$1 //p" "$ROOT/var/lib/metrics/kdr_offsite.prom"; }

rest_start() {
  local dir=$1 port i
  shift
  mkdir -p "$dir/store"
  port=$(cat "$dir/port" 2>/dev/null || _sandbox_free_port)
  echo "$port" > "$dir/port"
  rclone serve restic --addr "127.0.0.1:$port" "$@" "$dir/store" >>"$dir/rclone.log" 2>&1 &
  echo $! > "$dir/pid"
  echo $! >> "$_REST_PID_FILE"
  for i in $(seq 1 100); do
    nc -z 127.0.0.1 "$port" 2>/dev/null && { echo "rest:http://127.0.0.1:$port/kdr"; return 0; }
    kill -0 "$(cat "$dir/pid")" 2>/dev/null || { cat "$dir/rclone.log" >&2; return 1; }
    sleep 0.05
  done
  echo "rclone serve restic: not listening on 127.0.0.1:$port after 5 s" >&2
  return 1
}

rest_stop() {
  [ -f "$1/pid" ] || return 0
  kill -KILL "$(cat "$1/pid")" 2>/dev/null || true
  wait "$(cat "$1/pid")" 2>/dev/null || true
  rm -f "$1/pid"
}

sftp_start() {
  local dir=$1 port
  mkdir -p "$dir"
  ssh_client_key "$dir/id_ed25519"
  port=$(sshd_start "$dir/sshd" 127.0.0.1 "$dir/id_ed25519.pub") || return 1
  sshd_known_host "$dir/sshd" > "$dir/known_hosts"
  echo "[restic, -o, \"sftp.command=ssh -i $dir/id_ed25519 -o UserKnownHostsFile=$dir/known_hosts -o BatchMode=yes -p $port root@127.0.0.1 -s sftp\"]"
}

# as_host NAME CMD...: CMD on a machine named NAME (a UTS namespace of its own): another node
# sharing the repository, as restic's locks and kdr's generations see it.
as_host() { unshare --uts -- sh -c 'hostname "$0" && exec "$@"' "$@"; }
