#!/usr/bin/env bash
# Certificates that expire between the backup and the restore. The sandbox's leaf certificates
# are valid for 365 days; kdr's clock is moved 400 days on (KDR_NOW, the clock seam every
# expiry check reads), so they are expired as far as kdr can tell while the sandbox's etcd still
# serves them. restore-etcd-snapshot keeps the node's certificates: expired ones that etcd and
# kube-apiserver need refuse the restore in the preflight, before anything stops, with the
# kubeadm command that renews them; the node is left exactly as it was.
# kdr-test: once
source "$(dirname "$0")/../lib/scenario.sh"

make_running_node
expect_rc 0 kdr backup
later=$(( $(date +%s) + 400 * 86400 ))

step "400 days later: restore-etcd-snapshot is refused before anything stops, naming the renewal"
before=$(node_state)
KDR_NOW=$later expect_rc 1 kdr restore restore-etcd-snapshot --yes --set accept_loss=true
assert_contains "$OUT" "certificates this node's etcd and kube-apiserver need have expired: /etc/kubernetes/pki/"
assert_contains "$OUT" "/etc/kubernetes/pki/etcd/server.crt"
assert_contains "$OUT" "Renew them on the node first: kubeadm certs renew "
assert_contains "$OUT" "etcd-server"
assert_contains "$OUT" "nothing on the node was changed"
[[ "$OUT" != *"[2/"* ]] || fail "a step after the preflight ran: $OUT"
assert_eq "$(node_state)" "$before" "the node after the refused restore"
sandbox_etcdctl "$ROOT" endpoint health >/dev/null || fail "etcd does not answer after the refused restore"

step "the dry run says the same; today (nothing expired) it passes"
KDR_NOW=$later expect_rc 1 kdr restore restore-etcd-snapshot --set accept_loss=true --dry-run
assert_contains "$OUT" "Renew them on the node first: kubeadm certs renew "
expect_rc 0 kdr restore restore-etcd-snapshot --set accept_loss=true --dry-run
