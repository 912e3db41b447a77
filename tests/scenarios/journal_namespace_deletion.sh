#!/usr/bin/env bash
# The runbook's recipe for a deleted namespace, on a deletion made in the order the API server
# and its controllers make it (kubectl delete namespace): (1) the namespace is put with a
# deletionTimestamp and phase Terminating, (2) the namespace controller deletes its contents,
# (3) the namespace is put again without finalizers, (4) its key is deleted. The namespace is
# stored as kube-apiserver stores it: protobuf, `k8s\0` then a runtime.Unknown (typeMeta = 1,
# raw = 2) whose raw is a v1.Namespace (metadata = 1, spec = 2, status = 3; in ObjectMeta
# name = 1, uid = 5, creationTimestamp = 8, deletionTimestamp = 9; Time seconds = 1; spec
# finalizers = 1; status phase = 1), encoded here by hand from those field numbers of
# k8s.io/api and k8s.io/apimachinery's generated.proto. No kube-apiserver runs here.
# restore-etcd-keys with the default to=auto finds where the deletion began and brings back
# the namespace, Active, with every object, including one written after the last backup; a
# point chosen at the namespace's key delete is warned about.
# kdr-test: once
source "$(dirname "$0")/../lib/scenario.sh"

make_running_node
config 'kubeconfig: ""
journal: {checkpoint_s: 1}'

# protobuf, as hex: a length-delimited field, a varint field
hexof() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
varint() {
  local v=$1 out=''
  while [ "$v" -ge 128 ]; do out+=$(printf '%02x' $(( (v & 127) | 128 ))); v=$(( v >> 7 )); done
  printf '%s%02x' "$out" "$v"
}
field() { printf '%s%s%s' "$(varint $(( ($1 << 3) | 2 )))" "$(varint $(( ${#2} / 2 )))" "$2"; }
vfield() { printf '%s%s' "$(varint $(( $1 << 3 )))" "$(varint "$2")"; }
# namespace_value NAME PHASE DELETED(0|1) FINALIZER(0|1): the Namespace as kube-apiserver stores it
namespace_value() {
  local name=$1 phase=$2 deleted=$3 finalizer=$4 meta spec status raw
  meta=$(field 1 "$(hexof "$name")")$(field 5 "$(hexof 6b1e6a52-0f3c-4f1e-9d55-1c0a5d6e8f01)")$(field 8 "$(vfield 1 1796300000)")
  [ "$deleted" = 1 ] && meta+=$(field 9 "$(vfield 1 1796360000)")
  spec=''
  [ "$finalizer" = 1 ] && spec=$(field 1 "$(hexof kubernetes)")
  status=$(field 1 "$(hexof "$phase")")
  raw=$(field 1 "$meta")$(field 2 "$spec")$(field 3 "$status")
  printf '6b387300%s%s' "$(field 1 "$(field 1 "$(hexof v1)")$(field 2 "$(hexof Namespace)")")" "$(field 2 "$raw")"
}
put_namespace() {  # put_namespace NAME PHASE DELETED FINALIZER
  namespace_value "$@" | sed 's/../\\x&/g' | xargs -0 printf > "$T/ns.bin"
  sandbox_etcdctl "$ROOT" put "/registry/namespaces/$1" < "$T/ns.bin" >/dev/null
}
objects=(/registry/configmaps/payments/app-config /registry/secrets/payments/db /registry/deployments/payments/api
         /registry/pods/payments/api-7d9f-x2k4q /registry/services/specs/payments/api)

step "namespace payments (Active) with its objects, a full backup, the follower, one more object after the backup"
put_namespace payments Active 0 1
for k in "${objects[@]}"; do sandbox_etcdctl "$ROOT" put "$k" "{\"kind\":\"x\",\"key\":\"$k\"}" >/dev/null; done
expect_rc 0 kdr backup
start_follower
wait_caught_up
sandbox_etcdctl "$ROOT" put /registry/configmaps/payments/after-backup '{"kind":"ConfigMap"}' >/dev/null
objects+=(/registry/configmaps/payments/after-backup)
wait_caught_up

step "kubectl delete namespace payments, in the API server's order"
put_namespace payments Terminating 1 1
deletion_began=$(etcd_revision)
for k in "${objects[@]}"; do sandbox_etcdctl "$ROOT" del "$k" >/dev/null; done
put_namespace payments Terminating 1 0
sandbox_etcdctl "$ROOT" del /registry/namespaces/payments >/dev/null
key_deleted=$(etcd_revision)
wait_caught_up
assert_eq "$(etcd_keys /registry/ | grep -c payments || true)" 0 "payments keys left live"

step "kdr journal find --namespace lists every change to it across resources, and when its deletion began"
expect_rc 0 kdr journal find --namespace payments --limit 0
for k in "${objects[@]}" /registry/namespaces/payments; do assert_contains "$OUT" "$k"; done
assert_contains "$OUT" "namespace payments began to be deleted at revision $deletion_began"
assert_contains "$OUT" "its deletionTimestamp was set); its key was deleted at revision $key_deleted"

step "the old recipe (the revision before the namespace's key delete): warned, Terminating and empty"
expect_rc 0 kdr restore restore-etcd-keys --set namespace=payments --set to=$((key_deleted - 1)) --dry-run
assert_contains "$OUT" "namespace payments is Terminating (its deletion had begun)"
assert_contains "$OUT" "namespace payments holds none of its objects"
[ -z "$(etcd_keys /registry/namespaces/payments)" ] || fail "the dry run wrote a key"

step "the runbook's recipe (to=auto): the namespace Active, with every object, the one after the backup too"
expect_rc 0 kdr restore restore-etcd-keys --set namespace=payments --yes
assert_contains "$OUT" "to=auto: namespace payments began to be deleted at revision $deletion_began"
assert_contains "$OUT" "the keys are read at revision $((deletion_began - 1)), just before"
[[ "$OUT" != *"is Terminating"* ]] || fail "to=auto chose a point where the namespace is Terminating"
for k in "${objects[@]}" /registry/namespaces/payments; do
  [ -n "$(etcd_keys "$k")" ] || fail "$k not put back"
done
namespace_value payments Active 0 1 | sed 's/../\\x&/g' | xargs -0 printf > "$T/ns-active.bin"
assert_eq "$(sandbox_etcdctl "$ROOT" get /registry/namespaces/payments -w json | jq -r '.kvs[0].value')" \
  "$(base64 -w0 < "$T/ns-active.bin")" "the namespace put back (the Active one, byte for byte)"
stop_follower
