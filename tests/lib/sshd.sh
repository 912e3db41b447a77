# Private sshds for kdr's tests: Debian 12's OpenSSH server (unpacked by
# scripts/fetch-openssh.sh into build/openssh; KDR_OPENSSH_DIR elsewhere), each with its own
# configuration, host key and authorized_keys, listening on one loopback address and a high
# port, key authentication only. Never the machine's sshd, never port 22.
#
# sshd wants its privilege-separation user and /run/sshd; neither is made on the machine:
# each sshd runs in a mount namespace of its own (unshare), where a copy of /etc/passwd that
# has the `sshd` user and an empty /run are mounted. The commands it runs see the machine's
# file systems otherwise, and the PATH of the test (SetEnv).
#
#   sshd_start DIR ADDR AUTHORIZED_KEYS   starts one; DIR holds its config, host key, log, pid
#                                         and port; prints the port
#   sshd_known_host DIR                   the known_hosts line for it ([addr]:port key)
#   sshd_stop DIR                         stops it (sshd_stop_all on exit)
#   ssh_client_key FILE                   an ed25519 key pair FILE, FILE.pub (no passphrase)
#   ssh_to_nodes BASE KDR DRIVER ROOT...  the other nodes reachable from DRIVER over SSH

SSHD_PIDS=()
# sshd_start runs in $(...) too: its pid is also kept in a file, so that sshd_stop_all stops it.
_SSHD_PID_FILE=$(mktemp "${TMPDIR:-/tmp}/kdr-sshd-pids-XXXXXX")

_sshd_dir() { echo "${KDR_OPENSSH_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/openssh}"; }

ssh_client_key() { rm -f "$1" "$1.pub"; ssh-keygen -q -t ed25519 -N '' -C kdr-test -f "$1"; }

sshd_start() {
  local dir=$1 addr=$2 keys=$3 openssh port i
  openssh=$(_sshd_dir)
  [ -x "$openssh/sbin/sshd" ] || { echo "sshd: $openssh/sbin/sshd is missing (run scripts/fetch-openssh.sh)" >&2; return 1; }
  mkdir -p "$dir"
  chmod 700 "$dir"
  [ -f "$dir/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C "kdr-test-host-$addr" -f "$dir/host_ed25519"
  port=$(_sandbox_free_port)
  cp /etc/passwd "$dir/passwd"
  getent passwd sshd >/dev/null || echo 'sshd:x:64999:65534:kdr test sshd:/run/sshd:/usr/sbin/nologin' >> "$dir/passwd"
  cat > "$dir/sshd_config" <<CONF
ListenAddress $addr:$port
HostKey $dir/host_ed25519
AuthorizedKeysFile $keys
PidFile none
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
AllowTcpForwarding no
X11Forwarding no
SetEnv PATH=$PATH
Subsystem sftp $openssh/libexec/sftp-server
LogLevel VERBOSE
CONF
  LD_LIBRARY_PATH=$openssh/lib unshare --mount --propagation private -- sh -c '
      mount --bind "$1/passwd" /etc/passwd && mount -t tmpfs -o mode=755 kdr-test-sshd /run &&
      mkdir -m 755 /run/sshd && exec "$2" -D -e -f "$1/sshd_config"' sh "$dir" "$openssh/sbin/sshd" \
    >"$dir/sshd.log" 2>&1 &
  local pid=$!
  SSHD_PIDS+=("$pid")
  echo "$pid" >> "$_SSHD_PID_FILE"
  echo "$pid" > "$dir/pid"
  echo "$port" > "$dir/port"
  echo "$addr" > "$dir/addr"
  for i in $(seq 1 100); do
    grep -q "Server listening on $addr port $port" "$dir/sshd.log" 2>/dev/null && { echo "$port"; return 0; }
    kill -0 "$pid" 2>/dev/null || { echo "sshd: it exited; see $dir/sshd.log" >&2; cat "$dir/sshd.log" >&2; return 1; }
    sleep 0.05
  done
  echo "sshd: not listening after 5 s; see $dir/sshd.log" >&2
  return 1
}

sshd_known_host() { echo "[$(cat "$1/addr")]:$(cat "$1/port") $(cut -d' ' -f1,2 "$1/host_ed25519.pub")"; }

sshd_stop() {
  [ -f "$1/pid" ] || return 0
  _sandbox_kill "$(cat "$1/pid")"
  rm -f "$1/pid"
}

sshd_stop_all() {
  local pid
  for pid in "${SSHD_PIDS[@]}" $(cat "$_SSHD_PID_FILE" 2>/dev/null); do _sandbox_kill "$pid"; done
  SSHD_PIDS=()
  rm -f "$_SSHD_PID_FILE"
}

# ssh_to_nodes BASE KDR DRIVER ROOT...: the other nodes (sandbox roots) reachable from DRIVER
# over SSH, as an operator sets it up: a private sshd on each node's address (BASE/sshd-<node>/)
# that takes DRIVER's key, their host keys in DRIVER's known_hosts, and DRIVER's config
# (kubeconfig "" and a nodes: list) naming them with their kdr command: KDR with the node's
# root and its backup folder BASE/disk2-<basename of ROOT>.
ssh_to_nodes() {
  local base=$1 kdr=$2 driver=$3 r name dir port
  shift 3
  mkdir -p "$driver/etc/kdr/ssh"
  ssh_client_key "$driver/etc/kdr/ssh/id_ed25519"
  : > "$driver/etc/kdr/ssh/known_hosts"
  printf 'kubeconfig: ""\nnodes:\n' > "$driver/etc/kdr/kdr.yaml"
  for r in "$@"; do
    name=$(cat "$r/.sandbox-node-name")
    dir=$base/sshd-$name
    mkdir -p "$dir"
    cp "$driver/etc/kdr/ssh/id_ed25519.pub" "$dir/authorized_keys"
    port=$(sshd_start "$dir" "$(cat "$r/.sandbox-node-ip")" "$dir/authorized_keys") || return 1
    sshd_known_host "$dir" >> "$driver/etc/kdr/ssh/known_hosts"
    cat >> "$driver/etc/kdr/kdr.yaml" <<YAML
  - name: $name
    ssh: root@$(cat "$r/.sandbox-node-ip")
    port: $port
    identity_file: /etc/kdr/ssh/id_ed25519
    known_hosts: /etc/kdr/ssh/known_hosts
    kdr: [$kdr, --root, $r, --backup-dir, $base/disk2-$(basename "$r")]
YAML
  done
}
