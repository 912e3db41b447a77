#!/usr/bin/env bash
# Kubernetes objects at a point, against the way without kdr. A sandbox node's etcd (real, TLS)
# holds N Pods as kube-apiserver stores them (tests/helpers/k8s_store.cpp: Kubernetes' own
# .proto types in the runtime.Unknown envelope, each padded with an annotation so that the
# database reaches SIZE MB), and a kdr generation of it. Then, in one run:
#   - `kdr get pods -A --at <generation>`, time and peak RSS, caches dropped;
#   - by hand, the same list without kdr: `etcdutl snapshot restore` (etcdctl on 3.4) of the
#     generation's snapshot into a temporary data dir, an etcd started on it, `etcdctl get
#     --prefix /registry/pods/`, etcd stopped (what auger-less operators do today; etcdctl prints
#     the protobuf bytes, it decodes nothing);
#   - kdr's decoding alone, on one core (bench/k8s_decode.cpp: values read first, then decoded);
#   - `kdr diff` from the generation to the journal's latest after 1% of the Pods changed.
#
#   bench/objects.sh [--quick] [--objects N] [--size-mb SIZE] [--kdr PATH]
#   (default 100,000 Pods in at least 1024 MB; --quick: 5,000 Pods, 40 MB)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
objects=100000
args=()
while [ $# -gt 0 ]; do
  case $1 in
    --objects) objects=$2; shift ;;
    --quick) objects=5000; args+=("$1") ;;
    *) args+=("$1") ;;
  esac
  shift
done
bench_args 1024 40 1 "${args[@]}"
bindir=$(dirname "$kdr_bin")/..
store=${KDR_K8S_STORE:-$bindir/tests/k8s-store}
decode=${KDR_K8S_DECODE:-$bindir/bench/kdr-k8s-decode}
for b in "$store" "$decode"; do [ -x "$b" ] || { echo "bench: $b missing (build first)" >&2; exit 2; }; done
fixtures=$here/../tests/fixtures/k8s-objects

ROOT=$W/node
B=$W/disk2/kdr
mkdir -p "$W/disk2"
sandbox_make_node "$ROOT"
printf 'kubeconfig: ""\njournal: {checkpoint_s: 1}\n' > "$ROOT/etc/kdr/kdr.yaml"
sandbox_start_etcd "$ROOT"
sandbox_wait_etcd "$ROOT" 60
pki=$ROOT/etc/kubernetes/pki/etcd
endpoint=https://127.0.0.1:$(cat "$ROOT/.sandbox-client-port")
st() { "$store" "$endpoint" "$pki/ca.crt" "$pki/healthcheck-client.crt" "$pki/healthcheck-client.key" "$@"; }
k() { "$kdr_bin" --root "$ROOT" --backup-dir "$B" "$@"; }
pad=$(( size_mb * 1024 * 1024 / objects ))
[ "$pad" -gt 1000 ] && pad=$(( pad - 1000 )) || pad=1
echo "bench: $objects Pods of about $(( pad + 1000 )) bytes into etcd..." >&2
st fill "$objects" "$pad" "$fixtures/pod.json" >/dev/null
k -q backup
gen=$(basename "$(readlink -f "$B/latest")")
snapshot=$(readlink -f "$B/latest")/etcd/snapshot.db
[ -f "$snapshot" ] || { zstd -q -d "$snapshot.zst" -o "$W/snapshot.db"; snapshot=$W/snapshot.db; }
db_mb=$(( $(stat -c %s "$snapshot") >> 20 ))

echo "bench: kdr get pods -A --at $gen..." >&2
read -r kdr_s kdr_kb < <(bench_measure "$kdr_bin" --root "$ROOT" --backup-dir "$B" get pods -A --at "$gen")
listed=$(k get pods -A --at "$gen" 2>/dev/null | tail -n +2 | wc -l)
[ "$listed" -eq "$objects" ] || { echo "bench: kdr get listed $listed Pods, not $objects" >&2; exit 1; }

echo "bench: by hand (snapshot restore, etcd, etcdctl get)..." >&2
by_hand() {
  local data=$W/restored port pid
  rm -rf "$data"
  if command -v etcdutl >/dev/null 2>&1; then
    etcdutl snapshot restore "$snapshot" --data-dir "$data" >/dev/null 2>&1
  else
    ETCDCTL_API=3 etcdctl snapshot restore "$snapshot" --data-dir "$data" >/dev/null 2>&1
  fi
  port=$(( 30000 + RANDOM % 20000 ))
  etcd --data-dir "$data" --listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
    --listen-peer-urls "http://127.0.0.1:$(( port + 1 ))" --quota-backend-bytes 17179869184 >"$W/hand-etcd.log" 2>&1 &
  pid=$!
  until ETCDCTL_API=3 etcdctl --endpoints "http://127.0.0.1:$port" endpoint health >/dev/null 2>&1; do sleep 0.05; done
  ETCDCTL_API=3 etcdctl --endpoints "http://127.0.0.1:$port" get --prefix /registry/pods/ > "$W/hand.out"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}
export -f by_hand
export W snapshot
read -r hand_s hand_kb < <(bench_measure bash -c by_hand)

echo "bench: decoding alone..." >&2
decoded=$("$decode" "$snapshot" /registry/pods/)

echo "bench: kdr diff after 1% of the Pods changed..." >&2
"$kdr_bin" --root "$ROOT" --backup-dir "$B" journal run >"$W/follower.log" 2>&1 &
follower=$!
changed=$(( objects / 100 > 0 ? objects / 100 : 1 ))
jq '.status.phase = "Succeeded"' "$fixtures/pod.json" > "$W/changed.json"
st fill "$changed" "$pad" "$W/changed.json" >/dev/null
want=$(sandbox_etcdctl "$ROOT" endpoint status -w json | jq '.[0].Status.header.revision')
until [ "$(k journal status --json 2>/dev/null | jq '.state.position // 0')" -ge "$want" ]; do sleep 0.2; done
read -r diff_s diff_kb < <(bench_measure "$kdr_bin" --root "$ROOT" --backup-dir "$B" diff pods --from "$gen" --to latest)
kill "$follower"; wait "$follower" 2>/dev/null || true

cat <<REPORT
objects: $objects Pods in a $db_mb MB snapshot (generation $gen)
  kdr get pods -A --at GENERATION    ${kdr_s} s, peak RSS $(bench_mb "$kdr_kb") MB
  by hand (restore, etcd, etcdctl)   ${hand_s} s, peak RSS $(bench_mb "$hand_kb") MB
  kdr / by hand                      $(awk -v a="$kdr_s" -v b="$hand_s" 'BEGIN { printf "%.2f", a / b }')
  decoding alone, one core           $decoded
  kdr diff pods (generation -> latest, $changed changed)   ${diff_s} s, peak RSS $(bench_mb "$diff_kb") MB
REPORT
