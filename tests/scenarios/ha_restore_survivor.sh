#!/usr/bin/env bash
# Quorum back from the best survivor, with nothing lost. Three real etcd members; cp-1's change
# journal follows the cluster through cp-2's member. cp-1's etcd stops (partitioned) and the
# cluster goes on with two members and more writes, which the journal receives; then cp-2 and
# cp-3 die with their data dirs. cp-1 comes back, lagging, without quorum.
# `kdr restore restore-etcd-cluster --set from=survivor` on cp-1 ranks the members, opens cp-1's
# data with --force-new-cluster privately, replays the journal past its revision, checks the
# journal's digest, and makes the one-member cluster the others join: every write acknowledged
# before the disaster is back. Refused, changing nothing: the restore on a node whose member is
# not the most advanced, and on a node whose data dir is another cluster's. Refused in its run
# and rolled back: a survivor that diverged from what the journal followed (it was forced into a
# cluster of its own and took a write the others never saw, a split brain).
source "$(dirname "$0")/../lib/scenario.sh"

make_lagging_survivor

step "refused, changing nothing: cp-2 (no data; cp-1 is the survivor) and cp-3 (another cluster's data dir)"
rc=0
OUT=$(on_node "$R2" restore restore-etcd-cluster --yes --set from=survivor 2>&1) || rc=$?
[ "$rc" -ne 0 ] || fail "a restore from a node without data was not refused"
# cp-2 reaches no other member (none answers, no nodes: to read them over SSH)
assert_contains "$OUT" "no survivor: no member holds data of cluster $old_hex"
assert_contains "$OUT" "cp-1"
assert_contains "$OUT" "If one of them kept its data dir, run this restore there"
# cp-3's data dir: a one-member cluster of its own, restored from cp-3's own generation
snap3=$(readlink -f "$T/disk2-cp-3/latest")/etcd/snapshot.db
[ -f "$snap3" ] || fail "no snapshot in cp-3's backup"
cp "$snap3" "$T/other.db"
rm -rf "$R3/var/lib/etcd"
if command -v etcdutl >/dev/null; then tool=etcdutl; else tool=etcdctl; fi
ETCDCTL_API=3 $tool snapshot restore "$T/other.db" --skip-hash-check --data-dir "$R3/var/lib/etcd" --name cp-3 \
  --initial-cluster cp-3=https://127.0.0.13:1 --initial-advertise-peer-urls https://127.0.0.13:1 \
  --initial-cluster-token another-cluster >/dev/null 2>&1 || fail "could not make another cluster's data dir"
rc=0
OUT=$(on_node "$R3" restore restore-etcd-cluster --yes --set from=survivor 2>&1) || rc=$?
[ "$rc" -ne 0 ] || fail "a survivor of another cluster was not refused"
assert_contains "$OUT" "not cluster $old_hex"
for r in "$R2" "$R3"; do
  [ -z "$(ls -d "$r"/var/lib/etcd.kdr-* 2>/dev/null)" ] || fail "$(basename "$r")'s data dir was moved"
done
[ -d "$R3/var/lib/etcd/member" ] || fail "cp-3's data dir was touched"

step "a survivor that diverged (forced alone earlier, a write the others never saw): refused in its run, rolled back"
sandbox_stop_kubelet "$R1"
cp -a "$R1/var/lib/etcd" "$T/cp-1-etcd.saved"
mkdir -p "$T/forced" && chmod 700 "$T/forced"
(cd "$T/forced" && exec etcd --name cp-1 --force-new-cluster --data-dir "$R1/var/lib/etcd" --listen-client-urls unix://client:0 \
  --advertise-client-urls unix://client:0 --listen-peer-urls unix://peer:0 >"$T/forced/log" 2>&1) &
forced=$!
SCENARIO_BG_PIDS+=("$forced")
put_forced() { (cd "$T/forced" && ETCDCTL_API=3 etcdctl --endpoints unix://client:0 --dial-timeout 1s put /registry/configmaps/app/split-brain yes) >/dev/null 2>&1; }
wait_until 30 "the forced etcd to take a write" put_forced
kill -TERM "$forced"; wait "$forced" 2>/dev/null || true
assert_eq "$(on_node "$R1" --json etcd state | jq -r .cluster_id)" "$old_hex" "the forced member's cluster (unchanged by --force-new-cluster)"
rc=0
OUT=$(on_node "$R1" restore restore-etcd-cluster --yes --set from=survivor 2>&1) || rc=$?
[ "$rc" -eq 5 ] || { echo "$OUT"; fail "a diverged survivor: expected exit 5 (the restore stopped), got $rc"; }
assert_contains "$OUT" "is not the journal's"
assert_contains "$OUT" "it diverged from what the journal followed, and nothing was restored from it"
div_id=$(restore_id)
sandbox_start_kubelet "$R1"
OUT=$(on_node "$R1" restore --rollback "$div_id" --yes 2>&1) || { echo "$OUT"; fail "the rollback of the refused restore failed"; }
[ -f "$R1/etc/kubernetes/manifests/etcd.yaml" ] || fail "cp-1's etcd manifest is not back after the rollback"
[ -z "$(ls -d "$R1"/var/lib/etcd.kdr-* 2>/dev/null)" ] || fail "a data dir is left aside after the rollback"
# the rollback leaves the diverged data dir as it was; the copy taken before the forced write is
# put back for what follows
sandbox_stop_kubelet "$R1"
rm -rf "$R1/var/lib/etcd"
cp -a "$T/cp-1-etcd.saved" "$R1/var/lib/etcd"
sandbox_start_kubelet "$R1"
sleep 2

step "restore-etcd-cluster --set from=survivor on cp-1: the survivor topped up from the journal"
rc=0
OUT=$(on_node "$R1" -v restore restore-etcd-cluster --yes --set from=survivor 2>&1) || rc=$?
[ "$rc" -eq 0 ] || { echo "$OUT"; fail "restore-etcd-cluster from=survivor exited $rc"; }
# the private etcd on the survivor's data streamed its snapshot to kdr over gRPC, on its socket
assert_contains "$OUT" "etcd snapshot: asked of unix://"
assert_contains "$OUT" "over gRPC"
! grep -qE -- "snapshot save [^ ]*survivor.db" <<<"$OUT" || { echo "$OUT" >&2; fail "etcdctl saved the survivor's snapshot"; }
assert_contains "$OUT" "ranked by committed raft index"
assert_contains "$OUT" "=> cp-1"
assert_contains "$OUT" "the survivor + the change journal (revision $final_rev): nothing the journal received"
assert_contains "$OUT" "the survivor alone (revision"
assert_contains "$OUT" "opened with --force-new-cluster at revision"
# etcd 3.4.23 and 3.5.16, the versions tested, both predate the fixes
assert_contains "$OUT" "$(etcd --version | sed -n "s/^etcd Version: //p"): --force-new-cluster can leave other members in the member list (etcd#20009"
assert_contains "$OUT" "its keyspace matches the journal's digest at revision"
assert_contains "$OUT" "keyspace digest matches the journal's at revision $final_rev"
lost=$(grep -o 'the survivor alone (revision [0-9]*): [0-9]* change' <<<"$OUT" | head -n 1 | awk '{print $(NF-1)}')
[ "${lost:-0}" -ge 32 ] || fail "the plan says the survivor alone loses ${lost:-?} changes (32 were written after it)"
assert_eq "$(member_keyspace "$R1")" "$want" "every acknowledged write is back on cp-1"
members=$(sandbox_etcdctl "$R1" member list -w json)
assert_eq "$(jq '.members | length' <<<"$members")" 1 "members of the restored cluster (none left behind)"
new_cluster=$(member_cluster_id "$R1")
[ "$new_cluster" != "$old_cluster" ] || fail "cp-1 is still the old cluster"
ls -d "$R1"/var/lib/etcd.kdr-* >/dev/null 2>&1 || fail "the survivor's own data dir was not kept aside"

step "cp-2 joins the restored cluster with the printed command; the cluster serves every write"
cmd2=$(grep -o "on cp-2 (.*): kdr restore replace-etcd-member .*" <<<"$OUT" | tail -n 1 | sed 's/^on cp-2 ([^)]*): kdr //')
[ -n "$cmd2" ] || fail "no command printed for cp-2"
sandbox_start_kubelet "$R2"
read -r -a words <<<"$cmd2"
rc=0
OUT=$(on_node "$R2" "${words[@]}" 2>&1) || rc=$?
[ "$rc" -eq 0 ] || { echo "$OUT"; fail "cp-2 did not join (exit $rc)"; }
assert_eq "$(member_keyspace "$R2")" "$want" "cp-2 serves every acknowledged write"
sandbox_etcdctl "$R2" put /registry/configmaps/app/after-restore yes >/dev/null || fail "the cluster takes no write"
