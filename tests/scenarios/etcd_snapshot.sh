#!/usr/bin/env bash
# Every backup holds a consistent etcd snapshot, streamed by kdr from a real etcd over gRPC
# with TLS and client-certificate auth (kubeadm's layout), checked (trailer, bbolt structure) and
# recorded; it restores into a working etcd. Failures (etcd down, a refused certificate,
# no etcdctl, a read-only or full backup disk) are each reported clearly.
source "$(dirname "$0")/../lib/scenario.sh"

sandbox_make_node "$ROOT"
sandbox_start_etcd "$ROOT"
for i in $(seq 1 25); do sandbox_etcdctl "$ROOT" put "/registry/configmaps/app/cm-$i" "value-$i" >/dev/null; done
sandbox_etcdctl "$ROOT" put /registry/configmaps/app/cm-1 "value-1-updated" >/dev/null
sandbox_etcdctl "$ROOT" del /registry/configmaps/app/cm-25 >/dev/null
live_rev=$(etcd_revision)
live_keys=$(sandbox_etcdctl "$ROOT" get --prefix "" --keys-only | grep -c .)

step "backup with etcd running: a checked snapshot in the generation, streamed by kdr over gRPC"
expect_rc 0 kdr -v backup
assert_contains "$OUT" "etcd snapshot: revision $live_rev"
assert_contains "$OUT" "etcd snapshot: streamed by kdr over gRPC in"
G=$(latest_gen)
snap=$(jq '.etcd.snapshot' "$G/meta.json")
assert_eq "$(jq .revision <<<"$snap")" "$live_rev" "snapshot revision"
[ "$(jq .total_keys <<<"$snap")" -ge "$live_keys" ] || fail "total_keys below the live key count"
etcd_version=$(etcd --version | sed -n 's/^etcd Version: //p')
assert_eq "$(jq -r .server_version <<<"$snap")" "$etcd_version" "server version"
# kdr reads the snapshot's revision and key revisions itself (etcd/bbolt); etcd's own
# `snapshot status` (etcdutl on 3.5, etcdctl on 3.4) must agree.
if [ "$(sandbox_etcd_minor)" = 3.4 ]; then status_tool=(env ETCDCTL_API=3 etcdctl); else status_tool=(etcdutl); fi
etcd_says=$("${status_tool[@]}" snapshot status "$G/etcd/snapshot.db" -w json) || fail "snapshot status"
assert_eq "$(jq .revision <<<"$snap")" "$(jq .revision <<<"$etcd_says")" "revision as etcd reads it"
assert_eq "$(jq .total_keys <<<"$snap")" "$(jq .totalKey <<<"$etcd_says")" "totalKey as etcd reads it"
assert_eq "$(jq .keys <<<"$snap")" "$live_keys" "live keys at the snapshot's revision"
size=$(stat -c %s "$G/etcd/snapshot.db")
assert_eq "$(( size % 512 ))" "32" "bbolt pages plus the 32-byte trailer"
assert_eq "$(stat -c %a "$G/etcd/snapshot.db")" "600" "snapshot mode"
sums=$(cd "$G" && sha256sum -c --strict SHA256SUMS) || fail "sha256sum -c"
grep -qx 'etcd/snapshot.db: OK' <<<"$sums" || fail "snapshot not in SHA256SUMS"
[ -z "$(ls -A "$G/etcd" | grep -v '^snapshot.db$')" ] || fail "temporary files left: $(ls -A "$G/etcd")"

step "the generation records what a restore needs"
node=$(jq '.node' "$G/meta.json")
assert_eq "$(jq -r .etcd_member.name <<<"$node")" "cp-1" "member name"
assert_eq "$(jq -r '.etcd_member.peer_urls[0]' <<<"$node")" "https://127.0.0.1:$(cat "$ROOT/.sandbox-peer-port")" "peer url"
assert_eq "$(jq -r .etcd_member.initial_cluster <<<"$node")" "cp-1=https://127.0.0.1:$(cat "$ROOT/.sandbox-peer-port")" "initial cluster"
assert_eq "$(jq -r .etcd_member.data_dir <<<"$node")" "/var/lib/etcd" "data dir"
assert_eq "$(jq -r .etcd_server_version <<<"$node")" "$etcd_version" "etcd server version"
assert_eq "$(jq -r '.static_pods[] | select(.name=="kube-apiserver") | .images[0].version' <<<"$node")" "v1.31.2" "apiserver version"
assert_eq "$(jq -r .hostname <<<"$node")" "$(hostname)" "hostname"
jq -e '.addresses | type == "array"' <<<"$node" >/dev/null || fail "addresses"
jq -e '.not_captured | map(select(startswith("kubeadm-config"))) | length == 1' <<<"$node" >/dev/null ||
  fail "the missing kubeadm-config is not listed as not captured"
[ -f "$G/files/etc/kubernetes/pki/sa.key" ] || fail "sa.key missing"

step "the snapshot restores: etcdctl snapshot restore, a second etcd, the keys read back"
peer=$(_sandbox_free_port)
client=$(_sandbox_free_port)
ETCDCTL_API=3 etcdctl snapshot restore "$G/etcd/snapshot.db" --data-dir "$T/restored" --name restored \
  --initial-cluster "restored=http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
  --initial-cluster-token kdr-test >/dev/null 2>&1 || fail "etcdctl snapshot restore"
etcd --name restored --data-dir "$T/restored" --listen-client-urls "http://127.0.0.1:$client" \
  --advertise-client-urls "http://127.0.0.1:$client" --listen-peer-urls "http://127.0.0.1:$peer" \
  --initial-advertise-peer-urls "http://127.0.0.1:$peer" --initial-cluster "restored=http://127.0.0.1:$peer" \
  >"$T/restored-etcd.log" 2>&1 &
SCENARIO_BG_PIDS+=("$!")
for i in $(seq 1 50); do ETCDCTL_API=3 etcdctl --endpoints "http://127.0.0.1:$client" endpoint health >/dev/null 2>&1 && break; sleep 0.1; done
r() { ETCDCTL_API=3 etcdctl --endpoints "http://127.0.0.1:$client" "$@"; }
assert_eq "$(r get /registry/configmaps/app/cm-1 --print-value-only)" "value-1-updated" "restored value"
assert_eq "$(r get /registry/configmaps/app/cm-24 --print-value-only)" "value-24" "restored value"
assert_eq "$(r get /registry/configmaps/app/cm-25 --print-value-only)" "" "deleted key stays deleted"
assert_eq "$(r get --prefix "" --keys-only | grep -c .)" "$live_keys" "restored key count"

step "zstd compression, transparent to sha256sum -c"
config 'etcd: {compression: zstd}'
expect_rc 0 kdr backup
G=$(latest_gen)
[ -f "$G/etcd/snapshot.db.zst" ] && [ ! -e "$G/etcd/snapshot.db" ] || fail "no compressed snapshot"
assert_eq "$(zstd -dc "$G/etcd/snapshot.db.zst" | sha256sum | cut -c1-64)" "$(jq -r .etcd.snapshot.db_sha256 "$G/meta.json")" "decompressed snapshot"
(cd "$G" && sha256sum -c --quiet --strict SHA256SUMS) || fail "sha256sum -c with a compressed snapshot"
expect_rc 0 kdr verify --no-live
assert_contains "$OUT" "etcd from a consistent snapshot at revision $(jq .etcd.snapshot.revision "$G/meta.json")"
rm "$ROOT/etc/kdr/kdr.yaml"

step "a refused client certificate: partial (3), with its own message"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=stranger -days 1 \
  -keyout "$ROOT/etc/stranger.key" -out "$ROOT/etc/stranger.crt" 2>/dev/null
config 'etcd: {cert: /etc/stranger.crt, key: /etc/stranger.key}'
expect_rc 3 kdr backup
assert_contains "$OUT" "refused the client certificate /etc/stranger.crt (from config"
assert_contains "$OUT" "the rest from kubeadm's etcd health-check client"
assert_eq "$(jq -r .etcd.snapshot_failure "$(latest_gen)/meta.json")" "certificate-refused" "failure kind"

step "no etcdctl: partial (3), with its own message"
config 'etcd: {etcdctl: [/nonexistent/bin/etcdctl]}'
expect_rc 3 kdr backup
assert_contains "$OUT" "etcdctl could not be run (/nonexistent/bin/etcdctl: no such file)"
assert_eq "$(jq -r .etcd.snapshot_failure "$(latest_gen)/meta.json")" "missing-etcdctl" "failure kind"
rm "$ROOT/etc/kdr/kdr.yaml"

step "an endpoint that accepts connections but never answers: a timeout, with its own message"
hung=$(_sandbox_free_port)
nc -lk 127.0.0.1 "$hung" >/dev/null 2>&1 &
SCENARIO_BG_PIDS+=("$!")
sleep 0.2
config "etcd: {endpoint: \"https://127.0.0.1:$hung\"}"
expect_rc 3 kdr backup
assert_contains "$OUT" "accepts connections but does not answer"
assert_eq "$(jq -r .etcd.snapshot_failure "$(latest_gen)/meta.json")" "timeout" "failure kind"
rm "$ROOT/etc/kdr/kdr.yaml"

step "etcd stopped: the files are still kept, the generation is marked, exit 3"
sandbox_stop_etcd "$ROOT"
expect_rc 3 kdr backup
assert_contains "$OUT" "cannot be reached"
G=$(latest_gen)
assert_eq "$(jq -r .status "$G/meta.json")" "partial" "status"
assert_eq "$(jq -r .etcd.snapshot "$G/meta.json")" "null" "no snapshot"
[ -f "$G/files/var/lib/etcd/member/snap/db" ] && [ -f "$G/files/etc/kubernetes/admin.conf" ] || fail "files not kept"
[ ! -e "$G/etcd" ] || [ -z "$(ls -A "$G/etcd")" ] || fail "a failed snapshot left files: $(ls -A "$G/etcd")"
jq -e '.partial_because == ["no consistent etcd snapshot (unreachable)"]' "$G/meta.json" >/dev/null ||
  fail "recorded cause: $(jq -c .partial_because "$G/meta.json")"
expect_rc 0 kdr list
assert_contains "$(grep "$(basename "$G")" <<<"$OUT")" "NONE"
assert_contains "$OUT" "partial: no consistent etcd snapshot (unreachable)"
expect_rc 0 kdr show
assert_contains "$OUT" "status        partial: no consistent etcd snapshot (unreachable)"
# the files are whole: verify sends the operator to restore-files, as the runbook does
expect_rc 4 kdr verify --no-live
assert_contains "$OUT" "Next: its files are whole: kdr --root $ROOT --backup-dir $BACKUP restore restore-files -g $(basename "$G")"
sandbox_start_etcd "$ROOT"

step "a read-only backup disk: a clear error naming it, exit 1"
mount_tmpfs "$T/ro-disk" 300m
expect_rc 0 "$KDR_BIN" --root "$ROOT" --backup-dir "$T/ro-disk/kdr" -q backup
mount -o remount,ro "$T/ro-disk"
expect_rc 1 "$KDR_BIN" --root "$ROOT" --backup-dir "$T/ro-disk/kdr" backup
assert_contains "$OUT" "$T/ro-disk/kdr"
assert_contains "$OUT" "Read-only file system"

step "a backup disk without room for the snapshot: refused before anything is written"
mount_tmpfs "$T/small-disk" 16m
expect_rc 1 "$KDR_BIN" --root "$ROOT" --backup-dir "$T/small-disk/kdr" backup
assert_contains "$OUT" "MiB free; this backup needs about"
[ -z "$(ls -A "$T/small-disk/kdr/generations" 2>/dev/null)" ] || fail "something was written"
