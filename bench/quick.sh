#!/usr/bin/env bash
# Every benchmark in its quick mode (a small node, one round): what CI runs to prove that each
# one still works. Two run at a time (--jobs), so the figures they print are not comparable with each
# other or with docs/benchmarks.md (those come from each script run alone, in full). Each one's
# output is printed when it ends; the exit code is 1 when any of them failed, and names them.
#
#   bench/quick.sh [--kdr PATH] [--jobs N]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kdr_bin=$here/../build/cli/kdr
jobs=2
while [ $# -gt 0 ]; do
  case $1 in
    --kdr) kdr_bin=$2; shift ;;
    --jobs) jobs=$2; shift ;;
    *) echo "usage: $0 [--kdr PATH] [--jobs N]" >&2; exit 2 ;;
  esac
  shift
done
kdr_bin=$(readlink -f "$kdr_bin")
[ -x "$kdr_bin" ] || { echo "bench: no kdr binary at $kdr_bin (build first)" >&2; exit 2; }
export KDR_KUBELET=${KDR_KUBELET:-$(dirname "$(dirname "$kdr_bin")")/demo/kubelet-standin}

# The longest first, so that the lanes end close together.
benches=(etcd-latency scale offsite ha survivor journal rebuild-elsewhere replay restore-vs-manual
  objects backup-vs-rsync snapshot-vs-etcdctl verify-vs-diff)
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
declare -A pid_of=()
failed=()
finish() {  # finish PID EXIT: prints that benchmark's output, notes a failure
  local pid=$1 rc=$2 name=${pid_of[$1]}
  unset "pid_of[$pid]"
  echo "== bench/$name.sh --quick (exit $rc, $(cat "$logs/$name.time") s)"
  cat "$logs/$name.log"
  [ "$rc" -eq 0 ] || failed+=("$name")
}
for name in "${benches[@]}"; do
  while [ "${#pid_of[@]}" -ge "$jobs" ]; do
    rc=0; wait -n -p done_pid "${!pid_of[@]}" || rc=$?
    finish "$done_pid" "$rc"
  done
  ( start=$SECONDS; rc=0
    bash "$here/$name.sh" --quick --kdr "$kdr_bin" >"$logs/$name.log" 2>&1 || rc=$?
    echo $((SECONDS - start)) > "$logs/$name.time"; exit "$rc" ) &
  pid_of[$!]=$name
done
while [ "${#pid_of[@]}" -gt 0 ]; do
  rc=0; wait -n -p done_pid "${!pid_of[@]}" || rc=$?
  finish "$done_pid" "$rc"
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "bench: failed in quick mode: ${failed[*]}" >&2
  exit 1
fi
echo "bench: all ${#benches[@]} benchmarks ran in quick mode"
