#!/usr/bin/env bash
# Off-site copies through the real restic, into a local repository: push (the first
# generation whole, the next one deduplicated, nothing twice), list, pull into a fresh folder
# (an ordinary generation: sha256sum -c and kdr verify --no-live pass), a wrong password and a
# password file others can read each refused with their own exit code, and restic's own tools
# find a generation by its tags without kdr. Then the whole-site drill: the node root and the
# backup folder are wiped; on a fresh root, `kdr offsite pull latest` and
# `kdr restore rebuild-node` (kubeadm stand-in, tests/fakes) bring the node back, and etcd
# serves the backup's keys.
# kdr-test: once (restic and generations: nothing here depends on etcd's version)
source "$(dirname "$0")/../lib/scenario.sh"
source "$KDR_SOURCE_DIR/tests/lib/offsite.sh"
export PATH="$KDR_SOURCE_DIR/tests/fakes:$PATH"
REPO=$T/offsite-repo

step "a running node, backed up; the off-site repository made"
make_running_node
kubeadm_yaml=$T/kubeadm-config.yaml
kubeadm_config /var/lib/etcd > "$kubeadm_yaml"
export FAKE_KUBEADM_CONFIG=$kubeadm_yaml
offsite_config "$REPO"
password=$(cat "$ROOT/etc/kdr/restic-password")
for i in 1 2 3; do sandbox_etcdctl "$ROOT" put "/registry/configmaps/site-$i/settings" "value-$i" >/dev/null; done
kdr backup -q
expect_rc 0 kdr offsite init
OUT=$(kdr offsite init 2>&1)
assert_contains "$OUT" "a restic repository is there already"

step "push: the generation goes up; again: nothing to send; kdr backup --offsite: only what changed goes up"
OUT=$(kdr offsite push 2>&1) || { echo "$OUT"; fail "the push failed"; }
assert_contains "$OUT" "pushed $(basename "$(latest_gen)")"
OUT=$(kdr offsite push 2>&1)
assert_contains "$OUT" "off site already"
assert_eq "$(offsite_metric kdr_offsite_last_push_exit_code)" 0 "kdr_offsite_last_push_exit_code"
assert_eq "$(offsite_metric kdr_offsite_newest_generation_timestamp_seconds)" "$(jq .time "$(latest_gen)/meta.json")" \
  "the newest generation off site (metric)"
sandbox_etcdctl "$ROOT" put /registry/configmaps/site-1/later yes >/dev/null
OUT=$(kdr backup --offsite 2>&1) || { echo "$OUT"; fail "kdr backup --offsite failed"; }
new_mib=$(grep -o 'MiB, [0-9.]* MiB new off site' <<<"$OUT" | awk '{print $2}')
awk -v n="$new_mib" 'BEGIN { exit !(n < 5) }' || fail "the second push stored $new_mib MiB anew (restic deduplicates)"

step "list: both generations, with node, status and etcd snapshot; restic's own tools find them by tag"
LIST=$(kdr --json offsite list | jq .generations)
assert_eq "$(jq length <<<"$LIST")" 2 "generations off site"
assert_eq "$(jq -r '.[1].generation' <<<"$LIST")" "$(basename "$(latest_gen)")" "the newest off site"
assert_eq "$(jq -r '[.[] | .status] | unique | .[]' <<<"$LIST")" complete "their status"
assert_eq "$(jq -r '.[0].full_etcd_snapshot' <<<"$LIST")" true "the first holds a full snapshot"
own=$(restic_own snapshots --json --tag "kdr-generation=$(basename "$(latest_gen)")" | jq length)
assert_eq "$own" 1 "restic snapshots --tag kdr-generation=... (without kdr)"
ps -eo args | grep -F -- "$password" | grep -v grep && fail "the password is in a process's argv"

step "pull into a fresh folder: an ordinary generation"
expect_rc 0 kdr offsite pull latest --to "$T/pulled"
(cd "$T/pulled/latest" && sha256sum -c --quiet --strict SHA256SUMS) || fail "the pulled generation fails sha256sum -c"
expect_rc 0 "$KDR_BIN" --root "$ROOT" --backup-dir "$T/pulled" verify --no-live -q
expect_rc 1 kdr offsite pull latest --to "$T/pulled"

step "a password file others can read is refused (exit 2); a wrong password gets its own exit code (21)"
chmod 644 "$ROOT/etc/kdr/restic-password"
expect_rc 2 kdr offsite list
chmod 600 "$ROOT/etc/kdr/restic-password"
cp "$ROOT/etc/kdr/restic-password" "$T/password.good"
echo "not it" > "$ROOT/etc/kdr/restic-password"
rc=0
OUT=$(kdr offsite push 2>&1) || rc=$?
assert_eq "$rc" 21 "exit code of a push with a wrong password"
assert_contains "$OUT" "refused the password in /etc/kdr/restic-password"
assert_eq "$(offsite_metric kdr_offsite_last_push_exit_code)" 21 "kdr_offsite_last_push_exit_code after the wrong password"
assert_eq "$(offsite_metric 'kdr_offsite_push_problem{problem="denied"}')" 1 "kdr_offsite_push_problem"
cp "$T/password.good" "$ROOT/etc/kdr/restic-password"
assert_eq "$(ls "$BACKUP/generations" | wc -l)" 2 "local generations after the failed push"

step "check; forget with keep last 1 removes the older generation, and restic prunes"
expect_rc 0 kdr offsite check --subset 100%
assert_contains "$OUT" "100% of its data read back without a problem"
OFFSITE_SETTINGS='  keep: {last: 1, hourly: 0, daily: 0, weekly: 0, monthly: 0}
' offsite_config "$REPO"
expect_rc 0 kdr offsite forget
assert_contains "$OUT" "1 snapshot(s) of node"
assert_eq "$(kdr --json offsite list | jq -r '[.generations[] | .generation] | join(" ")')" "$(basename "$(latest_gen)")" \
  "generations off site after forget"
restic_own snapshots --json | jq -e 'length == 1' >/dev/null || fail "restic still lists the forgotten generation"
expect_rc 0 kdr offsite forget
assert_contains "$OUT" "nothing of node"

step "disaster: the node and its second disk are gone"
cp -p "$ROOT/etc/kdr/node.key" "$T/node.key.saved"
backup_keys=$(etcd_keys /registry/)
sandbox_stop_kubelet "$ROOT"
rm -rf "${ROOT:?}"/* "$BACKUP" "$T/pulled"

step "a fresh root: kdr's config, password and node key put back, the latest generation pulled, rebuild-node"
offsite_config "$REPO"
cp "$T/password.good" "$ROOT/etc/kdr/restic-password"
cp -p "$T/node.key.saved" "$ROOT/etc/kdr/node.key"
sandbox_start_kubelet "$ROOT"
expect_rc 0 kdr offsite pull latest --node "$(jq -r '.[1].node' <<<"$LIST")"
expect_rc 0 kdr restore rebuild-node --yes
sandbox_wait_etcd "$ROOT" 60 || fail "etcd does not answer after rebuild-node"
assert_eq "$(etcd_keys /registry/)" "$backup_keys" "the keys etcd serves after the whole-site drill"
