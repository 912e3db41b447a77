#!/usr/bin/env bash
# The kdr demo (`kdr demo`, and the README's first quick-start command): on a sandbox
# control-plane node (kubeadm's certificate layout, static pods run by the kubelet stand-in,
# a real etcd with TLS on loopback) it backs up, checks, suffers a disaster and recovers with
# a restore playbook, telling the story as it goes. Nothing outside a temporary folder is
# touched, and every process it starts is stopped whatever happens.
#
#   kdr demo [--keep]       --keep: leave the sandbox folder for inspection
#
# kdr runs this script with KDR_BIN (itself), KDR_KUBELET (the stand-in) and KDR_SANDBOX_LIB
# (the sandbox library) in the environment.
set -euo pipefail
: "${KDR_BIN:?}" "${KDR_KUBELET:?}" "${KDR_SANDBOX_LIB:?}"
export KDR_KUBELET
keep=no
[ "${1:-}" = "--keep" ] && keep=yes
KDR=$KDR_BIN
for tool in etcd etcdctl openssl jq sha256sum; do
  command -v "$tool" >/dev/null || missing="${missing:-} $tool"
done
if [ -n "${missing:-}" ]; then
  echo "kdr demo needs:$missing (apt-get install etcd-server etcd-client openssl jq)" >&2
  exit 2
fi
# shellcheck source=../tests/lib/sandbox.sh
source "$KDR_SANDBOX_LIB"

D=$(mktemp -d "${TMPDIR:-/tmp}/kdr-demo-XXXXXX")
ROOT=$D/node
BACKUP=$D/second-disk/kdr
mkdir -p "$D/second-disk"
# --keep: a small control script in the kept folder, so the node can be started again and
# practised on: $D/sandbox start|stop|kdr ARGS|etcdctl ARGS|remove.
write_control_script() {
  cat > "$D/sandbox" <<SCRIPT
#!/usr/bin/env bash
# The sandbox node 'kdr demo --keep' left in $D (kdr demo wrote this script).
set -euo pipefail
export KDR_KUBELET=$(printf '%q' "$KDR_KUBELET")
source $(printf '%q' "$KDR_SANDBOX_LIB")
ROOT=$(printf '%q' "$ROOT")
case "\${1:-}" in
  start) sandbox_start_kubelet "\$ROOT"; sandbox_wait_etcd "\$ROOT" 60; echo "the node runs: etcd answers" ;;
  stop) sandbox_stop_kubelet "\$ROOT"; echo "stopped: the kubelet stand-in and every pod it ran" ;;
  kdr) shift; exec $(printf '%q' "$KDR") --root "\$ROOT" --backup-dir $(printf '%q' "$BACKUP") "\$@" ;;
  etcdctl) shift; sandbox_etcdctl "\$ROOT" "\$@" ;;
  remove) sandbox_stop_kubelet "\$ROOT"; rm -rf $(printf '%q' "$D"); echo "removed $D" ;;
  *) echo "usage: \$0 start|stop|kdr ARGS|etcdctl ARGS|remove" >&2; exit 2 ;;
esac
SCRIPT
  chmod 755 "$D/sandbox"
  echo
  echo "The sandbox is kept in $D, stopped. To practise incidents on it (docs/runbook.md):"
  echo "  $D/sandbox start      # start its node again: the kubelet stand-in runs its static pods, etcd with TLS"
  echo "  $D/sandbox kdr list   # run kdr against it: $KDR --root $ROOT --backup-dir $BACKUP list"
  echo "  $D/sandbox etcdctl get --prefix /registry/namespaces/ --keys-only"
  echo "  $D/sandbox stop       # stop the stand-in and every pod it runs"
  echo "  $D/sandbox remove     # stop it and delete $D"
}
cleanup() {
  sandbox_stop_all
  if [ "$keep" = yes ]; then write_control_script; else rm -rf "$D"; fi
}
trap cleanup EXIT
kdr() { "$KDR" --root "$ROOT" --backup-dir "$BACKUP" "$@"; }
if [ -t 1 ]; then
  say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
  say() { printf '\n== %s\n' "$*"; }
fi
keys() { sandbox_etcdctl "$ROOT" get --prefix /registry/ --keys-only | grep -c . || true; }

say "1. A control-plane node: kubeadm's PKI and manifests, etcd running with TLS"
sandbox_make_node "$ROOT"
printf 'kubeconfig: ""   # no API server can run in the sandbox\n' > "$ROOT/etc/kdr/kdr.yaml"
echo "A kubelet stand-in runs the node's static pods, etcd for real (demo/kubelet_standin.cpp)."
sandbox_start_kubelet "$ROOT"
sandbox_wait_etcd "$ROOT" 60
for ns in default kube-system payments web; do
  sandbox_etcdctl "$ROOT" put "/registry/namespaces/$ns" "{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$ns\"}}" >/dev/null
done
sandbox_fill_etcd "$ROOT" 40 4000 /registry/configmaps/payments/cm-
sandbox_fill_etcd "$ROOT" 20 2000 /registry/secrets/payments/secret-
echo "Node root: $ROOT   second disk: $BACKUP"
echo "etcd holds $(keys) keys; the node has $(find "$ROOT/etc/kubernetes/pki" -name '*.key' | wc -l) private keys."

say "2. What kdr backs up, and why"
kdr sources

say "3. Backup while etcd keeps running (as cron would every 5 minutes)"
kdr backup
G1=$(readlink -f "$BACKUP/latest")

echo "The generation holds a consistent etcd snapshot besides the raw files:"
jq -c '.etcd.snapshot | {revision, keys, total_keys, db_size}' "$G1/meta.json"

say "4. Verify the generation: its own integrity, against the live node, the snapshot, the certificates"
kdr verify
echo "The same check without kdr, with plain sha256sum:"
(cd "$G1" && sha256sum -c --quiet SHA256SUMS && echo "sha256sum -c: all $(wc -l < SHA256SUMS) files OK")

say "5. The cluster changes; the next backup copies only what changed"
sandbox_fill_etcd "$ROOT" 10 4000 /registry/deployments/web/web-
kdr backup
kdr list

say "6. Disaster: etcd's disk fails; the node reboots with an empty /var/lib/etcd"
before=$(keys)
sandbox_stop_kubelet "$ROOT"
rm -rf "$ROOT/var/lib/etcd" && mkdir -m 700 "$ROOT/var/lib/etcd"
echo "The 5-minute cron job runs. rsync -a --delete would now mirror the empty folder over the backup."
set +e
kdr backup
rc=$?
set -e
echo "kdr backup refused with exit code $rc; the generations are untouched:"
kdr list
echo "The kubelet comes back and starts etcd on the empty folder: a new, empty cluster."
sandbox_start_kubelet "$ROOT"
sandbox_wait_etcd "$ROOT" 60
echo "etcd now serves $(keys) keys."

say "7. Restore with the restore-etcd-snapshot playbook: planned, journaled, checked"
kdr playbooks restore-etcd-snapshot | sed -n '1,3p'
kdr restore restore-etcd-snapshot --yes
G=$(readlink -f "$BACKUP/latest")
sandbox_wait_etcd "$ROOT" 60
after=$(keys)
echo "etcd is back with $after keys (it had $before before the disaster); the empty data dir is kept aside:"
ls -d "$ROOT"/var/lib/etcd.kdr-*
say "8. Verify again: the restored node against the generation it came from"
set +e
kdr verify "$(basename "$G")"
verify_rc=$?
set -e
sandbox_etcdctl "$ROOT" get /registry/namespaces/payments --print-value-only

say "What this drill proved"
echo "- kdr backed up a live node into versioned generations: $(ls "$BACKUP/generations" | wc -l) on the second disk, unchanged files hard-linked."
echo "- kdr verify found the generation whole, and plain 'sha256sum -c' agrees."
echo "- After the restore, verify compared the node with the generation (exit $verify_rc; etcd's own files are"
echo "  expected to differ: a snapshot restore writes a new data dir)."
echo "- An emptied etcd data dir was refused (exit $rc), not mirrored over the last good copy."
echo "- The restore-etcd-snapshot playbook stopped the control plane, kept the damaged data aside, restored the"
echo "  newest generation's snapshot, restarted the pods, and checked etcd serves $after of $before keys."
[ "$after" -eq "$before" ] && [ "$rc" -eq 1 ] && [ "$verify_rc" -eq 0 ]
