#!/usr/bin/env bash
# Gentle on etcd: with copy.drop_cache the backup's copies leave the page cache once on
# disk (fincore(1) counts their cached pages), copy.bandwidth_mib_s caps the copy rate, and
# the backup runs at idle I/O priority (ionice(1) reads it back from a running backup).
# kdr-test: once (files only: nothing here depends on etcd's version)
source "$(dirname "$0")/../lib/scenario.sh"

step "a node whose etcd data dir holds about 40 MB"
sandbox_make_node "$ROOT"
sandbox_start_etcd "$ROOT"
sandbox_fill_etcd "$ROOT" 40 1000000 /registry/configmaps/big/
sandbox_stop_etcd "$ROOT"
db=var/lib/etcd/member/snap/db
cached_kib() { fincore -b -n -o RES "$1" | tr -d ' '; }

step "copy.drop_cache: false keeps the copy in the page cache"
config 'kubeconfig: ""
etcd: {snapshot: false}
copy: {drop_cache: false}'
kdr backup -q
kept=$(cached_kib "$(latest_gen)/files/$db")
[ "$kept" -gt $((10 << 20)) ] || fail "the copy was not cached to begin with ($kept bytes)"

step "copy.drop_cache: true (the default) drops it once it is on disk"
echo changed >> "$ROOT/etc/kubernetes/admin.conf"
rm -rf "$BACKUP"
config 'kubeconfig: ""
etcd: {snapshot: false}'
kdr backup -q
dropped=$(cached_kib "$(latest_gen)/files/$db")
[ "$dropped" -lt $((1 << 20)) ] || fail "$dropped bytes of the copy still cached"
echo "cached after the backup: $kept bytes without drop_cache, $dropped bytes with it"

step "copy.bandwidth_mib_s: 10 holds the copy to 10 MiB/s"
rm -rf "$BACKUP"
config 'kubeconfig: ""
etcd: {snapshot: false}
copy: {bandwidth_mib_s: 10}'
start=$(date +%s.%N)
kdr backup -q &
pid=$!
# The backup lowers its priority once its configuration is read: sample it until it reads
# idle or the backup ends (a slow start, as under the sanitizers, is no failure).
prio=""
while kill -0 "$pid" 2>/dev/null; do
  running=$(pgrep -f -- "--root $ROOT --backup-dir $BACKUP backup" | head -n 1)
  [ -n "$running" ] && prio=$(ionice -p "$running" 2>/dev/null || true)
  [ "$prio" = "idle" ] && break
  sleep 0.05
done
wait "$pid"
elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
# The 40 MB database alone needs 4 s at 10 MiB/s (WAL preallocation holes are not copied).
awk -v e="$elapsed" 'BEGIN { exit !(e >= 3.6) }' || fail "the copy took $elapsed s under a 10 MiB/s cap"
echo "copy under a 10 MiB/s cap: $elapsed s; I/O priority of the running backup: $prio"
assert_eq "$prio" "idle" "I/O priority of the running backup"
