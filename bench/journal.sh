#!/usr/bin/env bash
# The etcd change journal on a sandbox node with a real TLS etcd:
#  - keep-up: `kdr journal run` following writes of 1 KiB values at rising rates (the load
#    generator bench/etcd_load.cpp); per rate the lag p99 (each 50 ms sample of etcd's
#    revision against the time the journal received it), the follower's peak RSS and CPU,
#    and journal bytes against the payload written;
#  - the 5-minute run after a 3,000-write burst: kdr backup with the journal (no snapshot, no
#    raw bbolt copy) beside the seed's `rsync -a --delete` plus `etcdctl snapshot save`, and
#    kdr backup without the journal, with time, peak RSS and bytes written to the second disk;
#  - second-disk bytes per day at 10 writes/s, from those figures;
#  - replay: `kdr journal compact` (the newest full snapshot plus every journaled change,
#    replayed in a private etcd and checked against the journal's digest).
#
#   bench/journal.sh [--quick] [--size-mb N] [--kdr PATH]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
quick=no
for a in "$@"; do [ "$a" = --quick ] && quick=yes; done
bench_args 250 30 1 "$@"
load_bin=${KDR_ETCD_LOAD:-$(dirname "$kdr_bin")/../bench/kdr-etcd-load}
[ -x "$load_bin" ] || { echo "bench: no load generator at $load_bin (build first)" >&2; exit 2; }
if [ "$quick" = yes ]; then rates=(200 1000); seconds=5; else rates=(500 1000 2000 4000); seconds=30; fi

bench_node_with_db
printf 'kubeconfig: ""\nretention: {keep_last: 100, hourly: 0, daily: 0, weekly: 0}\n' > "$ROOT/etc/kdr/kdr.yaml"
pki=$ROOT/etc/kubernetes/pki/etcd
endpoint=https://127.0.0.1:$(cat "$ROOT/.sandbox-client-port")
k() { "$kdr_bin" --root "$ROOT" --backup-dir "$B" "$@"; }
load() {  # load RATE SECONDS [SAMPLES]: "writes rate payload failed"
  "$load_bin" --endpoint "$endpoint" --cacert "$pki/ca.crt" --cert "$pki/healthcheck-client.crt" \
    --key "$pki/healthcheck-client.key" --rate "$1" --seconds "$2" --value-bytes 1024 --keys 5000 --threads 16 \
    ${3:+--samples "$3"}
}
revision() { sandbox_etcdctl "$ROOT" endpoint status -w json | jq '.[0].Status.header.revision'; }
caught_up() {
  local want i
  want=$(revision)
  for i in $(seq 1 600); do
    [ "$({ k journal status --json || true; } | jq '.state.position // 0')" -ge "$want" ] && return 0
    sleep 0.1
  done
  echo "bench: the journal did not catch up with revision $want" >&2
  exit 1
}
journal_bytes() { du -sb "$B/journal" | cut -f1; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

k -q backup >/dev/null
"$kdr_bin" --root "$ROOT" --backup-dir "$B" journal run >"$W/follower.log" 2>&1 &
follower=$!
caught_up

echo "## The journal keeps up (1 KiB values, 16 writers, ${seconds} s per rate)"
echo
echo "| asked writes/s | achieved | journal lag p99 | lag max | follower peak RSS | follower CPU | journal bytes / payload |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
hz=$(getconf CLK_TCK)
for rate in "${rates[@]}"; do
  b0=$(journal_bytes) c0=$(cpu_ticks "$follower") t0=$(date +%s.%N)
  read -r writes achieved payload failed < <(load "$rate" "$seconds" "$W/samples")
  caught_up
  t1=$(date +%s.%N) b1=$(journal_bytes) c1=$(cpu_ticks "$follower")
  k journal find /registry/configmaps/load/ --json --limit 0 | jq -r '.[] | "\(.revision) \(.time_ms)"' > "$W/received"
  lags=$(awk 'NR == FNR { t[$1] = $2; next } ($2 in t) { l = t[$2] - $1; if (l < 0) l = 0; print l }' \
    "$W/received" "$W/samples" | sort -n)
  p99=$(awk '{ a[NR] = $1 } END { i = int(NR * 0.99); if (i < 1) i = 1; print a[i] + 0 }' <<<"$lags")
  max=$(tail -1 <<<"$lags")
  rss=$(awk '/VmHWM/ { print $2 }' "/proc/$follower/status")
  cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$hz" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.2f core", (b - a) / hz / (t1 - t0) }')
  ratio=$(awk -v b="$((b1 - b0))" -v p="$payload" 'BEGIN { printf "%.2f", b / p }')
  echo "| $rate | $achieved | ${p99} ms | ${max} ms | $(bench_mb "$rss") MiB | $cpu | $ratio |"
  [ "$failed" -eq 0 ] || echo "bench: $failed puts failed at $rate/s" >&2
done
echo

echo "## The 5-minute run after a 3,000-write burst ($(du -m "$ROOT/var/lib/etcd/member/snap/db" | cut -f1) MB database)"
echo
# the seed's mirror, in its steady state before the burst
# rsync exits 24 when etcd removed a WAL file while it was being copied: the seed's cron job
# lives with that, and so does this comparison.
rsync_ok() { local rc=0; rsync "$@" || rc=$?; [ "$rc" -eq 0 ] || [ "$rc" -eq 24 ]; }
seed() {
  rsync_ok -a --delete --stats "$ROOT/var/lib/etcd/" "$W/disk2/mirror/var-lib-etcd/" >"$W/rsync1.stats" &&
    rsync_ok -a --delete --stats "$ROOT/etc/kubernetes/" "$W/disk2/mirror/etc-kubernetes/" >"$W/rsync2.stats" &&
    ETCDCTL_API=3 etcdctl --endpoints "$endpoint" --cacert "$pki/ca.crt" --cert "$pki/healthcheck-client.crt" \
      --key "$pki/healthcheck-client.key" snapshot save "$W/disk2/mirror/snapshot.db" >/dev/null 2>&1
}
mkdir -p "$W/disk2/mirror"
seed
k -q backup >/dev/null  # the journal-covered state before the burst
load 1000 3 >/dev/null
caught_up
read -r seed_s seed_kb < <(bench_measure --warm bash -c "$(declare -f rsync_ok seed); ROOT=$ROOT W=$W endpoint=$endpoint pki=$pki; seed")
rsync_bytes() { sed -n 's/^Total transferred file size: \([0-9,]*\) bytes.*/\1/p' "$1" | tr -d ,; }
seed_bytes=$(( $(rsync_bytes "$W/rsync1.stats") + $(rsync_bytes "$W/rsync2.stats") + $(stat -c %s "$W/disk2/mirror/snapshot.db") ))
read -r kdr_s kdr_kb < <(bench_measure --warm "$kdr_bin" --root "$ROOT" --backup-dir "$B" -q backup)
g=$(readlink -f "$B/latest")
jq -e '.etcd.journal.revision' "$g/meta.json" >/dev/null || { echo "bench: the run was not journal-covered" >&2; exit 1; }
kdr_bytes=$(jq '.bytes.copied' "$g/meta.json")
events=$(k journal verify --json | jq '.events')
read -r compact_s compact_kb < <(bench_measure --warm "$kdr_bin" --root "$ROOT" --backup-dir "$B" journal compact)
compact_events=$(jq '.events' "$(ls "$B"/journal/epoch-*/bases/*.json | tail -1)")
read -r full_s full_kb < <(bench_measure --warm env KDR_NOW=$(( $(date +%s) + 7200 )) "$kdr_bin" --root "$ROOT" --backup-dir "$B" -q backup)
gf=$(readlink -f "$B/latest")
full_bytes=$(( $(jq '.bytes.copied' "$gf/meta.json") + $(jq '.etcd.snapshot.size' "$gf/meta.json") ))
echo "| run | time | peak RSS (children too) | file content written to the second disk |"
echo "|---|---:|---:|---:|"
echo "| seed: rsync -a --delete + etcdctl snapshot save | ${seed_s} s | $(bench_mb "$seed_kb") MiB | $(( seed_bytes >> 20 )) MiB |"
echo "| kdr backup, journal running | ${kdr_s} s ($(awk -v a="$kdr_s" -v b="$seed_s" 'BEGIN { printf "%.2f", a / b }')x) | $(bench_mb "$kdr_kb") MiB | $(( kdr_bytes >> 10 )) KiB |"
echo "| kdr backup, full snapshot (hourly) | ${full_s} s | $(bench_mb "$full_kb") MiB | $(( full_bytes >> 20 )) MiB |"
echo

echo "## Second-disk bytes written per day at 10 writes/s (1 KiB values), from the figures above"
echo
segment_bytes=$(find "$B/journal" -name '*.seg' -printf '%s\n' | awk '{ s += $1 } END { print s }')
per_event=$(awk -v b="$segment_bytes" -v n="$(k journal verify --json | jq '.events')" 'BEGIN { printf "%.0f", b / n }')
journal_day=$(( per_event * 10 * 86400 ))
kdr_day=$(( journal_day + 264 * kdr_bytes + 24 * full_bytes ))
echo "| setup | per day |"
echo "|---|---:|"
echo "| seed: rsync -a --delete and a snapshot every 5 minutes | $(( 288 * seed_bytes >> 30 )) GiB |"
echo "| kdr without the journal: a full snapshot and the raw copy every 5 minutes | $(( 288 * full_bytes >> 30 )) GiB |"
echo "| kdr with the journal: $per_event B per change, files every 5 min, a full snapshot every hour | $(( kdr_day >> 20 )) MiB |"
echo

echo "## Replay: kdr journal compact (the full snapshot and the changes after it, in a private etcd, digest-checked)"
echo
echo "| database | changes replayed | time, snapshot saved | peak RSS |"
echo "|---|---:|---:|---:|"
echo "| $(du -m "$ROOT/var/lib/etcd/member/snap/db" | cut -f1) MB | $compact_events | ${compact_s} s | $(bench_mb "$compact_kb") MiB |"
kill -TERM "$follower"
wait "$follower" 2>/dev/null || true
