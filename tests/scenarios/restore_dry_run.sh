#!/usr/bin/env bash
# --dry-run shows the whole plan and the preflight's results and changes nothing on the node
# (a hash of every file before and after); it exits 1 when the real run would be refused, and
# its "Run it with" line repeats every option; declining a confirmation changes nothing
# either; a malformed playbook is refused with its file and line before anything runs.
source "$(dirname "$0")/../lib/scenario.sh"

step "a node with a backup; the kubelet stand-in is stopped so that nothing moves"
make_running_node
# the raw copy of etcd's data dir too (auto leaves it out beside a snapshot), for etcd=raw
config 'kubeconfig: ""
etcd: {raw_copy: always}'
kdr backup -q
sandbox_stop_kubelet "$ROOT"
before=$(node_state)

for pb in restore-etcd-snapshot restore-files; do
  step "kdr restore $pb --dry-run"
  expect_rc 0 kdr restore "$pb" --dry-run
  assert_contains "$OUT" "Dry run: nothing was changed; the preflight passed"
  assert_contains "$OUT" "Preflight (read-only checks):"
  assert_contains "$OUT" "ok    generation $(basename "$(latest_gen)") is intact"
  if [ "$pb" = restore-files ]; then
    # files only by default: etcd's data dir is left as it is
    assert_contains "$OUT" "left out of this plan (only with etcd=raw): move-aside, copy-back"
    ! grep -q "move-aside /var/lib/etcd" <<<"$OUT" || fail "restore-files plans to replace etcd's data dir by default"
    ! grep -q "etcd data " <<<"$OUT" || fail "restore-files speaks of etcd data it does not touch"
  else
    assert_contains "$OUT" "move-aside /var/lib/etcd"
    # etcd is stopped with the kubelet: what would be lost cannot be measured, and the plan says so
    assert_contains "$OUT" "etcd data   cannot tell what is lost: the live etcd does not answer"
  fi
  assert_eq "$(node_state)" "$before" "node after the dry run of $pb"
  [ ! -e "$ROOT/var/lib/kdr" ] || fail "the dry run wrote kdr's state folder"
done
assert_contains "$OUT" "copy-back /etc/kubernetes"
expect_rc 0 kdr restore restore-files --dry-run --set etcd=raw
assert_contains "$OUT" "move-aside /var/lib/etcd"
assert_contains "$OUT" "copy-back /var/lib/etcd"
assert_contains "$OUT" "etcd data   cannot tell what is lost"

step "the Run-it-with line repeats every option, the generation pinned, and runs as printed"
mkdir -p "$T/more-playbooks"
cp "$KDR_SOURCE_DIR/playbooks/restore-etcd-snapshot.yaml" "$T/more-playbooks/"
cp "$ROOT/etc/kdr/kdr.yaml" "$T/my config.yaml"
expect_rc 0 "$KDR_BIN" --root "$ROOT" --config "$T/my config.yaml" --backup-dir "$BACKUP" restore restore-etcd-snapshot \
  --dry-run --set bump_revision=false --playbook-dir "$T/more-playbooks"
line=$(grep -o 'Run it with: .*' <<<"$OUT" | sed 's/^Run it with: //')
gen=$(basename "$(latest_gen)")
assert_eq "$line" "kdr --root $ROOT --config '$T/my config.yaml' --backup-dir $BACKUP restore restore-etcd-snapshot -g $gen --set bump_revision=false --playbook-dir $T/more-playbooks" "printed command"
# it pastes into a shell: the printed command, with --dry-run added, plans the same restore
eval "set -- $line"
shift
expect_rc 0 "$KDR_BIN" "$@" --dry-run
assert_contains "$OUT" "parameters  bump_revision=false"

step "a playbook others can write, or in a folder others can write, is refused: its steps would run as root"
chmod 666 "$T/more-playbooks/restore-etcd-snapshot.yaml"
expect_rc 2 kdr restore restore-etcd-snapshot --dry-run --playbook-dir "$T/more-playbooks"
assert_contains "$OUT" "$T/more-playbooks/restore-etcd-snapshot.yaml: owned by uid 0 with mode 0666: a playbook's steps run as root"
chmod 644 "$T/more-playbooks/restore-etcd-snapshot.yaml"
chmod 777 "$T/more-playbooks"
expect_rc 2 kdr restore restore-etcd-snapshot --dry-run --playbook-dir "$T/more-playbooks"
assert_contains "$OUT" "the folder has mode 0777: others can write into it"
chmod 755 "$T/more-playbooks"
expect_rc 0 kdr restore restore-etcd-snapshot --dry-run --playbook-dir "$T/more-playbooks"

step "a restore the preflight would refuse: the dry run says why and exits 1"
echo "kind: Pod" > "$ROOT/etc/kubernetes/manifests/etcd.yaml.bak"
expect_rc 1 kdr restore restore-files --dry-run
assert_contains "$OUT" "preflight found 1 problem"
assert_contains "$OUT" "etcd.yaml.bak"
assert_contains "$OUT" "The restore would be refused as it stands"
rm "$ROOT/etc/kubernetes/manifests/etcd.yaml.bak"

step "a plan that would restore a path the generation does not hold is refused, naming it"
cp "$ROOT/etc/kubernetes/manifests/etcd.yaml" "$T/etcd.yaml.orig"
sed -i 's|/var/lib/etcd|/data/etcd|g' "$ROOT/etc/kubernetes/manifests/etcd.yaml"
# restore-files puts the generation's manifests back, so it restores the generation's data
# dir; the raw restore keeps the node's manifests, whose data dir the generation lacks
expect_rc 0 kdr restore restore-files --dry-run
assert_contains "$OUT" "the node's etcd manifest uses data dir /data/etcd, the backup's used /var/lib/etcd"
expect_rc 1 kdr restore restore-etcd-snapshot --set etcd_source=raw --dry-run
assert_contains "$OUT" "holds nothing for /data/etcd/member/snap/db: it was not backed up; etcd's data dir was /var/lib/etcd when the backup ran"
cp "$T/etcd.yaml.orig" "$ROOT/etc/kubernetes/manifests/etcd.yaml"
before=$(node_state)

step "declined at the first question: nothing changes"
OUT=$(echo n | kdr restore restore-etcd-snapshot 2>&1) && fail "a declined restore exited 0"
assert_eq "$(node_state)" "$before" "node after declining"

step "declined before the first change: the journal says so, the node is untouched, exit 1"
rc=0
OUT=$(printf 'y\nn\n' | kdr restore restore-etcd-snapshot 2>&1) || rc=$?
assert_eq "$rc" 1 "exit code of a step declined before anything changed"
assert_contains "$OUT" "stopped before step 2/9"
assert_contains "$OUT" "nothing was changed"
assert_eq "$(node_state)" "$before" "node after declining step 2"

step "the printed resume command runs as printed, with nothing but the restore id and the root"
resume=$(grep -o 'resume with: .*' <<<"$OUT" | sed 's/^resume with: //')
assert_contains "$resume" "--backup-dir $BACKUP"
id=$(restore_id)
# a resume needs only the id: the journal recorded the backup folder and the config
expect_rc 1 "$KDR_BIN" --root "$ROOT" restore --resume "$id" </dev/null
assert_contains "$OUT" "Resuming restore $id"
assert_contains "$OUT" "stopped before step 2/9"
eval "set -- $resume"
shift
expect_rc 1 "$KDR_BIN" "$@" </dev/null
assert_contains "$OUT" "Resuming restore $id"
assert_eq "$(node_state)" "$before" "node after the declined resumes"

step "declined after a change: the node is between states; the printed resume and rollback run as printed"
rc=0
OUT=$(printf 'y\ny\nn\n' | kdr restore restore-etcd-snapshot 2>&1) || rc=$?
assert_eq "$rc" 5 "exit code of a restore stopped after a change"
assert_contains "$OUT" "the node is between states"
resume=$(grep -o 'to continue from where it stopped: *.*' <<<"$OUT" | sed 's/^to continue from where it stopped: *//')
rollback=$(grep -o 'to undo it all: *.*' <<<"$OUT" | sed 's/^to undo it all: *//')
assert_contains "$resume" "kdr --root $ROOT --backup-dir $BACKUP restore --resume "
assert_contains "$rollback" "kdr --root $ROOT --backup-dir $BACKUP restore --rollback "
eval "set -- $resume"
shift
expect_rc 5 "$KDR_BIN" "$@" </dev/null  # resumed, then declined again at the next change
assert_contains "$OUT" "Resuming restore"
eval "set -- $rollback"
shift
expect_rc 0 "$KDR_BIN" "$@" --yes
assert_eq "$(node_state)" "$before" "node after the printed rollback"

step "a malformed playbook: file, line and key, exit 2, nothing runs"
mkdir -p "$T/pb"
cat > "$T/pb/broken.yaml" <<'YAML'
name: broken
steps:
  - type: preflight
  - type: move-aside
    pth: /var/lib/etcd
YAML
expect_rc 2 kdr restore "$T/pb/broken.yaml" --yes
assert_contains "$OUT" "broken.yaml:5:5: key 'steps[1].pth': unknown key"
cat > "$T/pb/broken2.yaml" <<'YAML'
name: broken2
steps:
  - type: copy-back
    path: ${nowhere}/etc
YAML
expect_rc 2 kdr restore "$T/pb/broken2.yaml" --yes
assert_contains "$OUT" "broken2.yaml:4:11: unknown variable \${nowhere}"
assert_eq "$(node_state)" "$before" "node after the malformed playbooks"

step "--json --dry-run: the plan as plan.json holds it, each step's commands, and the preflight's verdict"
rc=0
json_out=$(kdr --json restore restore-etcd-snapshot --dry-run --set accept_loss=true 2>/dev/null) || rc=$?
assert_eq "$rc" 0 "exit code of the JSON dry run"
assert_eq "$(jq -r '.plan.playbook' <<<"$json_out")" restore-etcd-snapshot "playbook in the JSON plan"
assert_eq "$(jq '.steps | length' <<<"$json_out")" "$(jq '.plan.steps | length' <<<"$json_out")" "steps described"
assert_eq "$(jq '.preflight.passed' <<<"$json_out")" true "the preflight's verdict"
jq -e '[.steps[] | select(.changes_node)] | length > 0' <<<"$json_out" >/dev/null || fail "no step changes the node"
assert_eq "$(node_state)" "$before" "node after the JSON dry run"
