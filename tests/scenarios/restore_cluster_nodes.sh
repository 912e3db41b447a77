#!/usr/bin/env bash
# The cluster after restore-etcd-snapshot replaced etcd's data (steps check-nodes and
# restart-kubelets): the nodes the restored etcd lists, asked as kube-apiserver asks their
# kubelets (GET https://ADDRESS:PORT/pods with its kubelet client certificate), the silent ones
# with the pods bound to them, the pods a kubelet runs that the restored etcd lacks, this node's
# kubelet restarted and the others' commands printed.
# Nodes and pods are Kubernetes objects as kube-apiserver stores them (k8s-store, Kubernetes'
# own .proto types). The kubelets' pod lists cannot come from a real kubelet here: each is
# served by `openssl s_server -WWW` over TLS, requiring a client certificate of the cluster CA
# as the kubelet's --client-ca-file does, answering the v1 PodList the kubelet's /pods
# endpoint documents (k8s.io/kubernetes pkg/kubelet/server: /pods lists the pods the kubelet
# runs, its static pods with annotation kubernetes.io/config.source=file).
source "$(dirname "$0")/../lib/scenario.sh"
fixtures=$KDR_SOURCE_DIR/tests/fixtures/k8s-objects

step "a node (cp-1, 127.0.0.1) whose kubelet restart is a script that records it"
sandbox_make_node "$ROOT"
cat > "$T/restart-kubelet" <<EOS
#!/bin/sh
echo restarted >> "$T/restarts.log"
EOS
chmod 755 "$T/restart-kubelet"
config "kubeconfig: \"\"
kubelet:
  restart: [$T/restart-kubelet]
  timeout_s: 2"
sandbox_start_kubelet "$ROOT"
sandbox_wait_etcd "$ROOT" 30

# node NAME ADDRESS PORT: a Node object (the corpus's, renamed) at ADDRESS with its kubelet on PORT
node_object() {
  jq --arg n "$1" --arg a "$2" --argjson p "$3" \
    '.metadata.name = $n | .metadata.uid = "uid-" + $n | .metadata.labels["kubernetes.io/hostname"] = $n
     | .status.addresses = [{address: $a, type: "InternalIP"}, {address: $n, type: "Hostname"}]
     | .status.daemonEndpoints.kubeletEndpoint.Port = $p' "$fixtures/node.json" > "$T/node-$1.json"
  echo "$T/node-$1.json"
}
# pod NAMESPACE NAME UID NODE: a Pod (the corpus's) bound to NODE
pod_object() {
  jq --arg ns "$1" --arg n "$2" --arg u "$3" --arg node "$4" \
    '.metadata.namespace = $ns | .metadata.name = $n | .metadata.uid = $u | .spec.nodeName = $node' "$fixtures/pod.json"
}
static_pod() {
  pod_object kube-system "$1-$2" "hash-$1" "$2" |
    jq --arg h "hash-$1" '.metadata.annotations = {"kubernetes.io/config.source": "file", "kubernetes.io/config.hash": $h}'
}
# kubelet ADDRESS PORT POD_JSON...: a kubelet's /pods at ADDRESS:PORT (a self-signed serving
# certificate, as the kubelet makes one; client certificates of the cluster CA required)
kubelet_at() {
  local address=$1 port=$2 dir=$T/kubelet-$1
  shift 2
  mkdir -p "$dir/www"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$address@kubelet" \
    -addext "subjectAltName=IP:$address" -keyout "$dir/kubelet.key" -out "$dir/kubelet.crt" 2>/dev/null
  jq -s '{kind: "PodList", apiVersion: "v1", metadata: {}, items: .}' "$@" > "$dir/www/pods"
  (cd "$dir/www" && exec openssl s_server -quiet -WWW -accept "$address:$port" -cert "$dir/kubelet.crt" \
    -key "$dir/kubelet.key" -CAfile "$ROOT/etc/kubernetes/pki/ca.crt" -Verify 1 >"$dir/log" 2>&1) &
  SCENARIO_BG_PIDS+=($!)
  local i
  for i in $(seq 50); do
    (exec 3<>"/dev/tcp/$address/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  fail "the kubelet stand-in at $address:$port did not start: $(cat "$dir/log")"
}

step "the cluster in etcd: cp-1 and two workers, w-1 (127.0.0.31) and w-2 (127.0.0.32), with their pods; backed up"
p_cp=$(_sandbox_free_port) p_w1=$(_sandbox_free_port) p_w2=$(_sandbox_free_port)
k8s_store put "$(node_object cp-1 127.0.0.1 "$p_cp")" "$(node_object w-1 127.0.0.31 "$p_w1")" \
  "$(node_object w-2 127.0.0.32 "$p_w2")" >/dev/null
pod_object payments api-1 uid-api-1 w-1 > "$T/api-1.json"
pod_object payments api-2 uid-api-2 w-2 > "$T/api-2.json"
pod_object payments cache-0 uid-cache-0 w-2 > "$T/cache-0.json"
k8s_store put "$T/api-1.json" "$T/api-2.json" "$T/cache-0.json" >/dev/null
expect_rc 0 kdr backup -q

step "after the backup: a pod scheduled onto w-1 (then lost with the restore); w-2's machine is gone"
pod_object payments late uid-late w-1 > "$T/late.json"
k8s_store put "$T/late.json" >/dev/null
static_pod etcd cp-1 > "$T/static-cp.json"
static_pod kube-proxy w-1 > "$T/static-w1.json"
kubelet_at 127.0.0.1 "$p_cp" "$T/static-cp.json"
kubelet_at 127.0.0.31 "$p_w1" "$T/static-w1.json" "$T/api-1.json" "$T/late.json"
# Without a client certificate the kubelet stand-in refuses, as the kubelet does.
if curl -sk --max-time 5 "https://127.0.0.31:$p_w1/pods" >/dev/null 2>&1; then fail "the kubelet stand-in answered without a client certificate"; fi

step "the plan says what the last two steps will do"
expect_rc 0 kdr restore restore-etcd-snapshot --dry-run --set accept_loss=true
assert_contains "$OUT" "check-nodes"
assert_contains "$OUT" "ask each node's kubelet which pods it runs"
assert_contains "$OUT" "this node (cp-1): $T/restart-kubelet"

step "restore-etcd-snapshot: the nodes checked, the kubelets restarted or their commands printed"
expect_rc 0 kdr restore restore-etcd-snapshot --yes --set accept_loss=true
assert_contains "$OUT" "cp-1 (127.0.0.1:$p_cp): its kubelet answers; it runs no pod the restored etcd lacks"
assert_contains "$OUT" "w-1 (127.0.0.31:$p_w1): its kubelet runs 1 pod the restored etcd lacks (phantoms, until its kubelet restarts): payments/late (Running)"
assert_contains "$OUT" "w-2 (127.0.0.32:$p_w2): no kubelet answers"
assert_contains "$OUT" "the restored etcd binds 2 pods to it: payments/api-2 (Running), payments/cache-0 (Running); once the machine is gone for good: kubectl delete node w-2"
assert_contains "$OUT" "cp-1: kubelet restarted ($T/restart-kubelet)"
assert_contains "$OUT" "restart the kubelet on 2 more nodes (kdr does not reach them):"
assert_contains "$OUT" "w-1: ssh 127.0.0.31 systemctl restart kubelet"
assert_contains "$OUT" "w-2: ssh 127.0.0.32 systemctl restart kubelet"
assert_eq "$(cat "$T/restarts.log")" "restarted" "this node's kubelet restarts"
id=$(restore_id)
report=$ROOT/var/lib/kdr/restores/$id/nodes.json
assert_eq "$(jq -r '[.nodes[] | .name + ":" + .kubelet] | join(",")' "$report")" "cp-1:answers,w-1:answers,w-2:silent" "nodes.json"
assert_eq "$(jq -r '.nodes[1].phantom_pods[0].uid' "$report")" "uid-late" "the phantom's uid"
assert_eq "$(stat -c %a "$report")" "600" "nodes.json's mode"
# The restored etcd lacks the pod; the kubelet's list is only read (the server's file is unchanged).
[ -z "$(etcd_keys /registry/pods/payments/late)" ] || fail "the restored etcd has the pod created after the backup"

step "kdr kubelet check asks the same at any time (exit 3: something to look at)"
expect_rc 3 kdr kubelet check
assert_contains "$OUT" "payments/late"
expect_rc 3 kdr --json kubelet check
assert_eq "$(jq -r '.nodes[2].kubelet' <<<"$OUT")" "silent" "kdr --json kubelet check"

step "without the kubelet client certificate the pod lists cannot be checked, and it says why"
mv "$ROOT/etc/kubernetes/pki/apiserver-kubelet-client.key" "$T/"
expect_rc 3 kdr kubelet check
assert_contains "$OUT" "w-1 (127.0.0.31:$p_w1): its pods cannot be checked"
mv "$T/apiserver-kubelet-client.key" "$ROOT/etc/kubernetes/pki/"

step "with kubelet.ca the kubelets' serving certificates are checked: a self-signed one is not trusted"
config "kubeconfig: \"\"
kubelet:
  restart: [$T/restart-kubelet]
  ca: /etc/kubernetes/pki/ca.crt
  timeout_s: 2"
expect_rc 3 kdr kubelet check
assert_contains "$OUT" "w-1 (127.0.0.31:$p_w1): its pods cannot be checked"
assert_contains "$OUT" "certificate"
config "kubeconfig: \"\"
kubelet:
  restart: [$T/restart-kubelet]
  timeout_s: 2"

step "kdr kubelet restart: the configured command; under --root the built-in systemctl is refused (exit 2)"
expect_rc 0 kdr kubelet restart
assert_eq "$(wc -l < "$T/restarts.log")" "2" "restarts"
config 'kubeconfig: ""'
expect_rc 2 kdr kubelet restart
assert_contains "$OUT" "not run under --root"
