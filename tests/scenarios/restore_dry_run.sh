#!/usr/bin/env bash
# --dry-run shows the whole plan and changes nothing on the node (a hash of every file
# before and after); declining a confirmation changes nothing either; a malformed playbook
# is refused with its file and line before anything runs.
source "$(dirname "$0")/../lib/scenario.sh"

step "a node with a backup; the kubelet stand-in is stopped so that nothing moves"
make_running_node
kdr backup -q
sandbox_stop_kubelet "$ROOT"
before=$(node_state)

for pb in restore-etcd-snapshot restore-files; do
  step "kdr restore $pb --dry-run"
  expect_rc 0 kdr restore "$pb" --dry-run
  assert_contains "$OUT" "Dry run: nothing was changed"
  assert_contains "$OUT" "move-aside /var/lib/etcd"
  assert_eq "$(node_state)" "$before" "node after the dry run of $pb"
  [ ! -e "$ROOT/var/lib/kdr" ] || fail "the dry run wrote kdr's state folder"
done
assert_contains "$OUT" "copy-back /etc/kubernetes"

step "declined at the first question: nothing changes"
OUT=$(echo n | kdr restore restore-etcd-snapshot 2>&1) && fail "a declined restore exited 0"
assert_eq "$(node_state)" "$before" "node after declining"

step "declined before the first change: the journal says so, the node is untouched"
rc=0
OUT=$(printf 'y\nn\n' | kdr restore restore-etcd-snapshot 2>&1) || rc=$?
assert_eq "$rc" 5 "exit code of a declined step"
assert_contains "$OUT" "stopped before step 2/7"
assert_eq "$(node_state)" "$before" "node after declining step 2"

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
