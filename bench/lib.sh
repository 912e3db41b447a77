# Shared by the benchmarks: the command line, a work folder cleaned up on exit, sandbox
# nodes with real etcd data, timing with GNU time, medians.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../tests/lib/sandbox.sh"
source "$here/../tests/lib/sshd.sh"

W=$(mktemp -d "${TMPDIR:-/tmp}/kdr-bench-XXXXXX")
trap 'sandbox_stop_all; sshd_stop_all; rm -rf "$W"' EXIT

# bench_args SIZE_MB QUICK_SIZE_MB REPS "$@": sets size_mb, reps and kdr_bin from
#   [--quick] [--size-mb N] [--kdr PATH]   (--quick: a small node and one repetition, for CI)
bench_args() {
  size_mb=$1
  local quick_size=$2
  reps=$3
  shift 3
  kdr_bin=${KDR_BIN:-$here/../build/cli/kdr}
  while [ $# -gt 0 ]; do
    case $1 in
      --quick) size_mb=$quick_size; reps=1 ;;
      --size-mb) size_mb=$2; shift ;;
      --kdr) kdr_bin=$2; shift ;;
      *) echo "usage: $0 [--quick] [--size-mb N] [--kdr PATH]" >&2; exit 2 ;;
    esac
    shift
  done
  [ -x "$kdr_bin" ] || { echo "bench: no kdr binary at $kdr_bin (build first)" >&2; exit 2; }
  # absolute: the other nodes of an HA bench run it from their own folder over SSH
  kdr_bin=$(readlink -f "$kdr_bin")
}

# bench_fill_until ROOT TEST: writes 1 MB values into the running etcd until TEST succeeds
bench_fill_until() {
  local root=$1
  shift
  until "$@"; do sandbox_fill_etcd "$root" 10 1000000 "/registry/configmaps/bench/cm-$RANDOM-"; done
}
# bench_node_with_db: the benchmark's node in $W/node (ROOT), its backup folder $W/disk2/kdr (B),
# its etcd running and holding a database of at least $size_mb MB
bench_node_with_db() {
  ROOT=$W/node
  B=$W/disk2/kdr
  mkdir -p "$W/disk2"
  echo "bench: an etcd database of at least $size_mb MB..." >&2
  sandbox_make_node "$ROOT"
  sandbox_start_etcd "$ROOT"
  bench_fill_until "$ROOT" bench_db_at_least "$ROOT" "$size_mb"
}
bench_data_dir_at_least() { [ "$(du -sm "$1/var/lib/etcd" | cut -f1)" -ge "$2" ]; }
bench_db_at_least() { [ $(( $(stat -c %s "$1/var/lib/etcd/member/snap/db") >> 20 )) -ge "$2" ]; }

bench_can_drop_caches() { (echo 3 > /proc/sys/vm/drop_caches) 2>/dev/null; }
bench_drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }

# bench_measure [--warm] CMD...: prints "seconds max_rss_kb" of CMD and its children. Exit
# codes 1 (diff: files differ) and 4 (kdr verify: findings) are results, not failures.
bench_measure() {
  local warm=no
  [ "$1" = --warm ] && { warm=yes; shift; }
  [ "$warm" = yes ] || bench_drop_caches
  local rc=0
  /usr/bin/time -o "$W/time.out" -f '%e %M' "$@" >/dev/null 2>"$W/cmd.err" || rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ] && [ "$rc" -ne 4 ]; then
    echo "bench: failed ($rc): $*" >&2
    cat "$W/cmd.err" >&2
    exit 1
  fi
  tail -n 1 "$W/time.out"
}

# bench_median: the median line (by its first number) of stdin
bench_median() { grep . | sort -n | awk '{ a[NR] = $0 } END { print a[int((NR + 1) / 2)] }'; }

bench_mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# The recovery benchmarks' node: a namespace that a disaster deletes and a recovery must bring
# back. bench_wait_precious ROOT: until etcd serves it again.
bench_wait_precious() {
  until [ "$(sandbox_etcdctl "$1" --dial-timeout 1s get /registry/namespaces/precious --print-value-only 2>/dev/null)" = '{"kind":"Namespace"}' ]; do
    sleep 0.05
  done
}

# bench_manual_etcd_restore ROOT SNAPSHOT ASIDE TOKEN: etcd restored by hand, as the seed's
# runbook does it: etcd's manifest out of the static pod folder, wait for etcd to stop, the data
# dir moved to ASIDE, `etcdctl snapshot restore` with the member's name and peer URL, manifest back.
bench_manual_etcd_restore() {
  local root=$1 snapshot=$2 aside=$3 token=$4 node peer pid running
  node=$(cat "$root/.sandbox-node-name")
  peer="https://127.0.0.1:$(cat "$root/.sandbox-peer-port")"
  mv "$root/etc/kubernetes/manifests/etcd.yaml" "$W/etcd.yaml"
  while :; do
    running=no
    for pid in $(pgrep -x etcd); do tr '\0' '\n' < "/proc/$pid/cmdline" | grep -q -- "$root/" && running=yes; done
    [ "$running" = yes ] || break
    sleep 0.05
  done
  mv "$root/var/lib/etcd" "$aside"
  ETCDCTL_API=3 etcdctl snapshot restore "$snapshot" --data-dir "$root/var/lib/etcd" --name "$node" \
    --initial-cluster "$node=$peer" --initial-cluster-token "$token" --initial-advertise-peer-urls "$peer" >/dev/null 2>&1
  mv "$W/etcd.yaml" "$root/etc/kubernetes/manifests/etcd.yaml"
}
