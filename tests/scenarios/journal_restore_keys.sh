#!/usr/bin/env bash
# A namespace created after the last backup, then deleted by mistake: the generation's snapshot
# never held it, but the change journal did. `kdr journal find` names the revision of the
# delete, and to=auto finds where the deletion began; restore-etcd-keys with to=<that revision - 1> replays the journal off the node and
# puts back exactly that namespace's keys, byte for byte, into the running etcd. Keys written
# since survive; the rollback removes exactly what the restore wrote.
source "$(dirname "$0")/../lib/scenario.sh"

value_of() { sandbox_etcdctl "$ROOT" get "$1" -w json | jq -r '.kvs[0].value // "absent"'; }  # base64

make_running_node
config 'kubeconfig: ""
journal: {checkpoint_s: 1}'

step "a backup, then the follower; namespace team-9 is created after the backup"
expect_rc 0 kdr backup
gen=$(basename "$(latest_gen)")
start_follower
wait_caught_up
sandbox_etcdctl "$ROOT" put /registry/namespaces/team-9 '{"kind":"Namespace"}' >/dev/null
sandbox_etcdctl "$ROOT" put /registry/configmaps/team-9/settings 'v1' >/dev/null
sandbox_etcdctl "$ROOT" put /registry/configmaps/team-9/settings 'v2' >/dev/null
printf 'tok\0\001\377' | sandbox_etcdctl "$ROOT" put /registry/secrets/team-9/token >/dev/null
declare -A want
for k in /registry/namespaces/team-9 /registry/configmaps/team-9/settings /registry/secrets/team-9/token; do
  want[$k]=$(value_of "$k")
done

step "disaster: team-9 deleted; the cluster keeps writing elsewhere"
sandbox_etcdctl "$ROOT" del --prefix /registry/configmaps/team-9/ >/dev/null
sandbox_etcdctl "$ROOT" del --prefix /registry/secrets/team-9/ >/dev/null
sandbox_etcdctl "$ROOT" del /registry/namespaces/team-9 >/dev/null
sandbox_etcdctl "$ROOT" put /registry/configmaps/team-1/written-after-the-delete new >/dev/null
wait_caught_up

step "the generation's snapshot never held team-9: to=snapshot is refused, naming what it holds"
expect_rc 1 kdr restore restore-etcd-keys --set namespace=team-9 --set to=snapshot --yes
assert_contains "$OUT" "generation $gen's snapshot holds no key of namespace team-9"

step "kdr journal find names the delete; the revision just before it is the point"
expect_rc 0 kdr journal find /registry/namespaces/team-9 --json
del_rev=$(jq '[.[] | select(.type == "delete")][0].revision' <<<"$OUT")
[ "$del_rev" -gt 0 ] 2>/dev/null || fail "no delete found: $OUT"
first_del=$(kdr journal find /registry/ --json | jq '[.[] | select(.type == "delete" and (.key | contains("team-9")))] | map(.revision) | min')
point=$((first_del - 1))

step "to=auto (the default) finds where the deletion began by itself: the same point"
expect_rc 0 kdr restore restore-etcd-keys --set namespace=team-9 --dry-run
assert_contains "$OUT" "to=auto: namespace team-9 began to be deleted at revision $first_del"
assert_contains "$OUT" "the first delete of one of its objects (/registry/configmaps/team-9/settings)"
assert_contains "$OUT" "the keys are read at revision $point, just before"

step "the plan: replay off the node to revision $point, then the keys from there"
expect_rc 0 kdr restore restore-etcd-keys --set namespace=team-9 --set to="$point" --dry-run
assert_contains "$OUT" "etcd-replay"
assert_contains "$OUT" "read the change journal's revision $point, as the etcd-replay step made it, off a private copy (hashed as it is copied"
assert_contains "$OUT" "the change journal's revision $point (replayed) holds 3 keys: configmaps 1, namespaces 1, secrets 1 for namespace team-9"
assert_contains "$OUT" "3 to write, 0 already live with the same value, 0 conflicts"
[ "$(value_of /registry/namespaces/team-9)" = absent ] || fail "the dry run wrote a key"

step "restore-etcd-keys --set to=$point: team-9 comes back, the cluster running"
expect_rc 0 kdr restore restore-etcd-keys --set namespace=team-9 --set to="$point" --yes
assert_contains "$OUT" "the change journal's revision $point (replayed) holds 3 keys: configmaps 1, namespaces 1, secrets 1 for namespace team-9"
assert_contains "$OUT" "wrote 3 keys into the live etcd"
for k in "${!want[@]}"; do assert_eq "$(value_of "$k")" "${want[$k]}" "value of $k"; done
assert_eq "$(sandbox_etcdctl "$ROOT" get --print-value-only /registry/configmaps/team-1/written-after-the-delete)" new \
  "a key written after the delete"
id=$(restore_id)

step "the rollback removes exactly the keys the restore wrote"
expect_rc 0 kdr restore --rollback "$id" --yes
for k in "${!want[@]}"; do assert_eq "$(value_of "$k")" absent "after the rollback: $k"; done
assert_eq "$(sandbox_etcdctl "$ROOT" get --print-value-only /registry/configmaps/team-1/written-after-the-delete)" new \
  "a key written after the delete, after the rollback"

step "a mistyped namespace is refused by the dry run, naming the namespaces the point holds"
expect_rc 1 kdr restore restore-etcd-keys --set namespace=team-99 --set to="$point" --dry-run
assert_contains "$OUT" "the change journal's revision $point (replayed) holds no key of namespace team-99 (its namespaces: "
assert_contains "$OUT" "team-9"

step "a point the journal does not hold is refused before anything runs"
before=$(ls "$ROOT/var/lib/kdr/restores" | grep -vc '^\.')
expect_rc 1 kdr restore restore-etcd-keys --set namespace=team-9 --set to=99999999 --yes
assert_contains "$OUT" "revision 99999999 is not in the change journal (epoch 1 holds revisions"
assert_eq "$(ls "$ROOT/var/lib/kdr/restores" | grep -vc '^\.')" "$before" "restores started"
stop_follower
