#!/usr/bin/env bash
# What `kdr restore PLAYBOOK --dry-run` prints for every shipped playbook on a sandbox node
# (the plan, what each step will do, the preflight's verdict) is what tests/fixtures/dry-run/
# holds: a change in how the plan is built shows here as a difference, line by line. Sandbox
# paths, ports, generation and restore ids, ages, sizes and timings are normalized.
# The fixtures are per etcd minor version (etcdctl 3.4 restores snapshots, etcdutl 3.5 does).
# KDR_UPDATE_FIXTURES=1 writes the fixtures instead of comparing (after an intended change).
source "$(dirname "$0")/../lib/scenario.sh"

fixtures=$KDR_SOURCE_DIR/tests/fixtures/dry-run/etcd-$(sandbox_etcd_minor)
make_running_node
# with the raw copy of etcd's data dir (auto leaves it out beside a snapshot), for etcd_source=raw
config 'kubeconfig: ""
etcd: {raw_copy: always}'
expect_rc 0 kdr backup
gen=$(basename "$(latest_gen)")
gen2=no-second-generation-yet  # replaced once the journal scenario takes one
client_port=$(cat "$ROOT/.sandbox-client-port")
peer_port=$(cat "$ROOT/.sandbox-peer-port")

normalize() {
  grep -v 'kdr: re-hashing: ' | sed -E -e "s#$T#<T>#g" -e "s#$KDR_SOURCE_DIR#<SRC>#g" -e "s#$gen#<GEN>#g" -e "s#$gen2#<GEN-2>#g" -e "s#$KDR_BIN#kdr#g" \
    -e "s#:$client_port\b#:<CLIENT-PORT>#g" -e "s#:$peer_port\b#:<PEER-PORT>#g" \
    -e 's#[0-9]{8}-[0-9]{6}-#<DATE>-#g' \
    -e 's#taken [^,]*, [^,)]*#taken <WHEN>#' \
    -e 's#[0-9]+(\.[0-9]+)? (B|KiB|MiB|GiB|bytes|s)\b#<N> \2#g' \
    -e 's#key [0-9a-f]{16}#key <KEY-ID>#g' -e 's#\b(3\.[0-9]+)\.[0-9]+\b#\1.x#g' -e 's#revision [0-9]+#revision <REV>#g' -e 's#[0-9]+ keys#<N> keys#g' -e 's#to=[0-9]+#to=<REV>#g' -e 's#[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:?[0-9]{2}:?[0-9]{2}Z#<TIME>#g' -e 's#(kdr-[a-z-]+-)[A-Za-z0-9]{6}/#\1XXXXXX/#g' \
    -e 's#replay-base-[0-9a-f]{16}#replay-base-<SHA>#g'
}

changed=0
# dry_run NAME PLAYBOOK [ARGS...]: the dry run's text compared with (or written to) NAME.txt
dry_run() {
  local name=$1 playbook=$2 rc=0 out text
  shift 2
  step "kdr restore $playbook --dry-run $*"
  out=$(kdr restore "$playbook" --dry-run "$@" 2>&1) || rc=$?
  text=$(printf 'exit %s\n%s\n' "$rc" "$out" | normalize)
  if [ "${KDR_UPDATE_FIXTURES:-}" = 1 ]; then
    mkdir -p "$fixtures"
    printf '%s\n' "$text" > "$fixtures/$name.txt"
    return 0
  fi
  [ -f "$fixtures/$name.txt" ] || fail "no fixture $fixtures/$name.txt (KDR_UPDATE_FIXTURES=1 writes it)"
  if ! diff -u "$fixtures/$name.txt" <(printf '%s\n' "$text"); then
    echo "the dry run of $name differs from $fixtures/$name.txt (above)" >&2
    changed=1
  fi
}

dry_run restore-files restore-files -g "$gen"
dry_run restore-etcd-snapshot restore-etcd-snapshot -g "$gen" --set accept_loss=true
dry_run restore-etcd-snapshot-raw restore-etcd-snapshot -g "$gen" --set etcd_source=raw --set accept_loss=true
dry_run restore-etcd-keys restore-etcd-keys -g "$gen" --set namespace=team-1
dry_run rebuild-node rebuild-node -g "$gen" --set accept_loss=true
dry_run replace-etcd-member replace-etcd-member -g "$gen"
dry_run restore-etcd-cluster restore-etcd-cluster -g "$gen" --set accept_loss=true

# With the change journal: a generation it covers, restored to a point it replays
config 'kubeconfig: ""
journal: {checkpoint_s: 1}'
start_follower
wait_caught_up
for i in 1 2 3 4 5; do sandbox_etcdctl "$ROOT" put "/registry/configmaps/team-2/cm-$i" "v$i" >/dev/null; done
wait_caught_up
expect_rc 0 kdr backup
gen2=$(basename "$(latest_gen)")
sandbox_etcdctl "$ROOT" del "/registry/configmaps/team-2/cm-1" >/dev/null
wait_caught_up
dry_run journal-restore-etcd-snapshot restore-etcd-snapshot --set accept_loss=true
dry_run journal-restore-etcd-snapshot-latest restore-etcd-snapshot --set to=latest
dry_run journal-restore-etcd-keys restore-etcd-keys --set namespace=team-2
dry_run journal-rebuild-node rebuild-node --set accept_loss=true
stop_follower
[ "$changed" = 0 ] || fail "a dry run printed another plan than the fixtures hold"
