#!/usr/bin/env bash
# Whoever can write the backup disk rewrites an event of the change journal: a Secret's value,
# the record's CRC-32 recomputed (tests/helpers/forge_segment.cpp). Every group commit of a
# segment ends with a seal, the HMAC under the node's key of the bytes before it: kdr journal
# verify and kdr verify name the forgery, a restore to a point refuses it before anything on
# the node changes (unauthenticated=true does not pass it), and the replay never applies it. A
# machine without the key is asked for it; key_file= gives it.
# kdr-test: once
source "$(dirname "$0")/../lib/scenario.sh"

step "a backup, the follower, then a Secret written: only the journal holds it"
make_running_node
config 'kubeconfig: ""
journal: {checkpoint_s: 1}'
expect_rc 0 kdr backup
start_follower
wait_caught_up
sandbox_etcdctl "$ROOT" put /registry/secrets/default/token "good-token-value" >/dev/null
sandbox_etcdctl "$ROOT" put /registry/configmaps/default/after "after" >/dev/null
wait_caught_up
stop_follower
expect_rc 0 kdr journal verify
segments=$(find "$BACKUP/journal" -name '*.seg' | wc -l)
assert_contains "$OUT" "$segments of $segments segment(s) sealed with this node's key"
for seg in $(find "$BACKUP/journal" -name '*.seg'); do
  [ "$(head -c 8 "$seg")" = KDRJSEG2 ] || fail "$seg is not a sealed segment"
done

step "the genuine journal: a dry run of a restore to its end checks the seals"
expect_rc 0 kdr restore restore-etcd-snapshot --dry-run --set to=latest --set accept_loss=true
assert_contains "$OUT" "the replay's base and journal: sealed and signed with this node's key"

step "without the key (a replacement machine) the journal is asked for; key_file= gives it"
key=$ROOT/etc/kdr/node.key
cp "$key" "$T/saved.key"
rm "$key"
expect_rc 1 kdr restore restore-etcd-snapshot --dry-run --set to=latest --set accept_loss=true
assert_contains "$OUT" "the replay's base and journal"
assert_contains "$OUT" "has no key to check it with"
expect_rc 0 kdr restore restore-etcd-snapshot --dry-run --set to=latest --set accept_loss=true --set key_file="$T/saved.key"
assert_contains "$OUT" "sealed and signed with this node's key"
cp "$T/saved.key" "$key"

step "the Secret's value rewritten in the segment, its CRC recomputed"
seg=$(grep -l good-token-value $(find "$BACKUP/journal" -name '*.seg') | head -1)
[ -n "$seg" ] || fail "no segment holds the Secret's value"
assert_eq "$("$KDR_FORGE_SEGMENT" "$seg" good-token-value evil-token-value)" 1 "events the forger changed"

step "kdr journal verify and kdr verify name the forgery"
expect_rc 4 kdr journal verify
assert_contains "$OUT" "forged: the seal at byte"
expect_rc 4 kdr verify --no-live
assert_contains "$OUT" "[journal forged]"

step "a restore to a point refuses it before anything on the node changes, even unauthenticated=true"
before=$(node_state)
live_before=$(live_keyspace)
expect_rc 1 kdr restore restore-etcd-snapshot --yes --set to=latest --set accept_loss=true
assert_contains "$OUT" "is refused: the seal at byte"
expect_rc 1 kdr restore restore-etcd-snapshot --yes --set to=latest --set accept_loss=true --set unauthenticated=true
assert_contains "$OUT" "is refused: the seal at byte"
assert_eq "$(node_state)" "$before" "the node after the refused restores"
assert_eq "$(live_keyspace)" "$live_before" "the live etcd after the refused restores"
assert_eq "$(sandbox_etcdctl "$ROOT" get /registry/secrets/default/token --print-value-only)" good-token-value \
  "the Secret in the live etcd"

step "to=auto leaves the journal out and says why: the generation's snapshot as it is"
expect_rc 0 kdr restore restore-etcd-snapshot --dry-run --set to=auto --set accept_loss=true
assert_contains "$OUT" "the change journal cannot be used"
assert_contains "$OUT" "refused"
