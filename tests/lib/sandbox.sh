# Sandbox kubeadm control-plane nodes for kdr's tests, drill and benchmarks.
# Source this file; nothing here touches the machine's own /etc/kubernetes or /var/lib/etcd.
#
#   sandbox_make_node ROOT          kubeadm-like /etc/kubernetes (real certificates from
#                                   openssl, kubeconfigs, static pod manifests with hostPath
#                                   volumes), CA folders with symlinks, an empty /var/lib/etcd
#   sandbox_start_etcd ROOT         a real etcd (Debian's) serving ROOT/var/lib/etcd on loopback
#                                   with TLS and client-certificate auth, as kubeadm sets it up
#                                   (SANDBOX_ETCD_HOST_DATA=DIR: its data elsewhere, as an
#                                   external etcd's)
#   sandbox_etcdctl ROOT ARGS...    etcdctl with the node's healthcheck-client certificate
#   sandbox_stop_etcd ROOT          stops it (SIGTERM, then SIGKILL)
#   sandbox_start_kubelet ROOT      the kubelet stand-in (tests/fakes/kubelet_standin.cpp): runs
#                                   ROOT's static pods as the kubelet would, etcd for real
#   sandbox_wait_etcd ROOT [SECS]   waits until the node's etcd answers
#   sandbox_make_ha_cluster R1 R2 R3  three control-plane nodes of one stacked etcd cluster
#   sandbox_stop_kubelet ROOT       stops the stand-in and every pod it runs
#   sandbox_stop_all                stops every etcd and kubelet this shell started (EXIT trap)
#
# The kubelet is not installable here. Backups need only etcd, which sandbox_start_etcd runs
# with the manifest's flags; restores need the kubelet's reaction to manifests coming and
# going, which the stand-in gives ($KDR_KUBELET, or the one in build/tests).

# The etcd under test: KDR_ETCD_VERSION=3.5 puts the etcd 3.5 that scripts/fetch-etcd.sh
# unpacked (KDR_ETCD35_DIR, default build/etcd-3.5) first in PATH, for the sandbox, the
# kubelet stand-in and kdr alike; anything else keeps Debian 12's 3.4.
sandbox_select_etcd() {
  case ${KDR_ETCD_VERSION:-3.4} in
    3.5)
      local dir=${KDR_ETCD35_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/etcd-3.5}
      [ -x "$dir/bin/etcd" ] || { echo "sandbox: KDR_ETCD_VERSION=3.5 but $dir/bin/etcd is missing (run scripts/fetch-etcd.sh)" >&2; return 1; }
      case ":$PATH:" in *":$dir/bin:"*) ;; *) export PATH="$dir/bin:$PATH" ;; esac ;;
    3.4) ;;
    *) echo "sandbox: KDR_ETCD_VERSION must be 3.4 or 3.5, not '$KDR_ETCD_VERSION'" >&2; return 1 ;;
  esac
}
sandbox_select_etcd
# sandbox_etcd_minor: 3.4 or 3.5, from the etcd that runs.
sandbox_etcd_minor() { etcd --version | sed -n 's/^etcd Version: \([0-9]*\.[0-9]*\).*/\1/p'; }

SANDBOX_ETCD_PIDS=()
SANDBOX_KUBELET_PIDS=()

# _sandbox_free_port: a port nothing listens on, below the kernel's ephemeral range, so
# that no outgoing connection of a test running beside this one can hold it when etcd binds.
_sandbox_free_port() {
  local port low=15000 high=32767
  read -r high _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  high=$(( high - 1 ))
  [ "$high" -gt $(( low + 1000 )) ] || low=$(( high - 1000 ))
  while :; do
    port=$(( low + RANDOM % (high - low) ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}

# _sandbox_cert DIR NAME CA_PREFIX CN [O] [SAN] [USAGE]: an ECDSA P-256 key and a certificate
# signed by CA_PREFIX.{crt,key}, as kubeadm would lay them out.
_sandbox_cert() {
  local dir=$1 name=$2 ca=$3 cn=$4 org=${5:-} san=${6:-} usage=${7:-serverAuth,clientAuth}
  if [ -f "$dir/$name.crt" ] && [ -f "$dir/$name.key" ]; then echo "[certs] Using existing $name certificate and key on disk"; return; fi
  local subj="/CN=$cn"
  [ -n "$org" ] && subj="/O=$org$subj"
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/$name.key" 2>/dev/null
  chmod 600 "$dir/$name.key"
  local ext
  ext=$(mktemp)
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$usage"
    [ -n "$san" ] && echo "subjectAltName=$san"
  } > "$ext"
  openssl req -new -key "$dir/$name.key" -subj "$subj" 2>/dev/null |
    openssl x509 -req -CA "$ca.crt" -CAkey "$ca.key" -CAcreateserial -days 365 \
      -extfile "$ext" -out "$dir/$name.crt" 2>/dev/null
  rm -f "$ext" "$ca.srl"
  chmod 644 "$dir/$name.crt"
}

_sandbox_ca() {
  local dir=$1 name=$2 cn=$3
  if [ -f "$dir/$name.crt" ] && [ -f "$dir/$name.key" ]; then echo "[certs] Using existing $name certificate authority"; return; fi
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/$name.key" 2>/dev/null
  chmod 600 "$dir/$name.key"
  openssl req -x509 -new -key "$dir/$name.key" -subj "/CN=$cn" -days 3650 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign" \
    -out "$dir/$name.crt" 2>/dev/null
  chmod 644 "$dir/$name.crt"
}

_sandbox_kubeconfig() {
  local file=$1 user=$2 crt=$3 key=$4 ca=$5 server=$6
  if [ -f "$file" ]; then echo "[kubeconfig] Using existing kubeconfig file: $file"; return; fi
  cat > "$file" <<KUBECONFIG
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: $(base64 -w0 < "$ca")
    server: $server
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: $user
  name: $user@kubernetes
current-context: $user@kubernetes
kind: Config
preferences: {}
users:
- name: $user
  user:
    client-certificate-data: $(base64 -w0 < "$crt")
    client-key-data: $(base64 -w0 < "$key")
KUBECONFIG
  chmod 600 "$file"
}

# sandbox_write_pki ROOT NODE IP: kubeadm's PKI and kubeconfigs under ROOT/etc/kubernetes; files
# that exist are kept ("Using existing ...", as kubeadm reuses an existing CA).
sandbox_write_pki() {
  sandbox_write_certs "$@"
  sandbox_write_kubeconfigs "$@"
}

# sandbox_write_certs ROOT NODE IP: the CAs, the certificates naming the node and the
# service-account key pair; existing ones are kept.
sandbox_write_certs() {
  local root=$1 node=$2 ip=$3
  mkdir -p "$root"/etc/kubernetes/pki/etcd
  local pki=$root/etc/kubernetes/pki
  _sandbox_ca "$pki" ca kubernetes
  _sandbox_ca "$pki" front-proxy-ca front-proxy-ca
  _sandbox_ca "$pki/etcd" ca etcd-ca
  _sandbox_cert "$pki" apiserver "$pki/ca" kube-apiserver "" "DNS:$node,DNS:kubernetes,DNS:kubernetes.default,IP:10.96.0.1,IP:$ip" serverAuth
  _sandbox_cert "$pki" apiserver-kubelet-client "$pki/ca" kube-apiserver-kubelet-client kubeadm:cluster-admins "" clientAuth
  _sandbox_cert "$pki" front-proxy-client "$pki/front-proxy-ca" front-proxy-client "" "" clientAuth
  _sandbox_cert "$pki" apiserver-etcd-client "$pki/etcd/ca" kube-apiserver-etcd-client "" "" clientAuth
  _sandbox_cert "$pki/etcd" server "$pki/etcd/ca" "$node" "" "DNS:$node,DNS:localhost,IP:$ip,IP:127.0.0.1,IP:0:0:0:0:0:0:0:1"
  _sandbox_cert "$pki/etcd" peer "$pki/etcd/ca" "$node" "" "DNS:$node,DNS:localhost,IP:$ip,IP:127.0.0.1,IP:0:0:0:0:0:0:0:1"
  _sandbox_cert "$pki/etcd" healthcheck-client "$pki/etcd/ca" kube-etcd-healthcheck-client "" "" clientAuth
  if [ ! -f "$pki/sa.key" ]; then
    openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
    chmod 600 "$pki/sa.key"
    openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
    chmod 644 "$pki/sa.pub"
  else
    echo "[certs] Using the existing \"sa\" key"
  fi
}

# sandbox_write_kubeconfigs ROOT NODE IP: the kubeconfigs of the node (server https://IP:6443),
# their client certificates signed by ROOT's CA; existing ones are kept.
sandbox_write_kubeconfigs() {
  local root=$1 node=$2 ip=$3
  local pki=$root/etc/kubernetes/pki server="https://$ip:6443" k=$root/etc/kubernetes
  _sandbox_cert "$pki" admin "$pki/ca" kubernetes-admin kubeadm:cluster-admins "" clientAuth
  _sandbox_kubeconfig "$k/admin.conf" kubernetes-admin "$pki/admin.crt" "$pki/admin.key" "$pki/ca.crt" "$server"
  _sandbox_kubeconfig "$k/super-admin.conf" kubernetes-super-admin "$pki/admin.crt" "$pki/admin.key" "$pki/ca.crt" "$server"
  _sandbox_cert "$pki" kcm "$pki/ca" system:kube-controller-manager "" "" clientAuth
  _sandbox_kubeconfig "$k/controller-manager.conf" system:kube-controller-manager "$pki/kcm.crt" "$pki/kcm.key" "$pki/ca.crt" "$server"
  _sandbox_cert "$pki" sched "$pki/ca" system:kube-scheduler "" "" clientAuth
  _sandbox_kubeconfig "$k/scheduler.conf" system:kube-scheduler "$pki/sched.crt" "$pki/sched.key" "$pki/ca.crt" "$server"
  _sandbox_cert "$pki" kubelet "$pki/ca" "system:node:$node" system:nodes "" clientAuth
  _sandbox_kubeconfig "$k/kubelet.conf" "system:node:$node" "$pki/kubelet.crt" "$pki/kubelet.key" "$pki/ca.crt" "$server"
  # kubeadm embeds these client certs in the kubeconfigs and does not keep them in pki/.
  rm -f "$pki"/{admin,kcm,sched,kubelet}.{crt,key}
}

# sandbox_write_manifests ROOT NODE IP CLIENT_PORT PEER_PORT: the four static pod manifests.
# SANDBOX_ETCD_DATA_DIR (default /var/lib/etcd) is etcd's --data-dir, as kubeadm's
# etcd.local.dataDir writes it: mounted at the same path from a hostPath volume of that path,
# or of SANDBOX_ETCD_HOSTPATH when set (SANDBOX_ETCD_HOSTPATH=/var/lib/etcd with another
# data dir: a --data-dir under no hostPath volume).
# SANDBOX_ETCD_INITIAL_CLUSTER and SANDBOX_ETCD_CLUSTER_STATE=existing: a member that joined a
# cluster (kubeadm join --control-plane); etcd then also listens on IP besides 127.0.0.1.
# SANDBOX_ETCD_QUOTA=BYTES: etcd's --quota-backend-bytes, as a cluster whose database outgrows
# the 2 GiB default sets it through kubeadm's etcd.local.extraArgs.
sandbox_write_manifests() {
  local root=$1 node=$2 ip=$3 client_port=$4 peer_port=$5
  local k=$root/etc/kubernetes
  local listen_client="https://127.0.0.1:$client_port"
  [ "$ip" = 127.0.0.1 ] || listen_client="$listen_client,https://$ip:$client_port"
  local initial_cluster=${SANDBOX_ETCD_INITIAL_CLUSTER:-$node=https://$ip:$peer_port}
  local cluster_state='' quota=''
  [ "${SANDBOX_ETCD_CLUSTER_STATE:-new}" != existing ] || cluster_state='
    - --initial-cluster-state=existing'
  [ -z "${SANDBOX_ETCD_QUOTA:-}" ] || quota="
    - --quota-backend-bytes=$SANDBOX_ETCD_QUOTA"

  local data_dir=${SANDBOX_ETCD_DATA_DIR:-/var/lib/etcd}
  local data_host=${SANDBOX_ETCD_HOSTPATH:-$data_dir}
  mkdir -p "$k/manifests"
  # SANDBOX_NO_ETCD_MANIFEST=1: the control plane's three alone (kubeadm's control-plane phase)
  [ -n "${SANDBOX_NO_ETCD_MANIFEST:-}" ] || cat > "$k/manifests/etcd.yaml" <<MANIFEST
apiVersion: v1
kind: Pod
metadata:
  annotations:
    kubeadm.kubernetes.io/etcd.advertise-client-urls: https://$ip:$client_port
  labels:
    component: etcd
    tier: control-plane
  name: etcd
  namespace: kube-system
spec:
  containers:
  - command:
    - etcd
    - --advertise-client-urls=https://$ip:$client_port
    - --cert-file=/etc/kubernetes/pki/etcd/server.crt
    - --client-cert-auth=true
    - --data-dir=$data_dir
    - --initial-advertise-peer-urls=https://$ip:$peer_port
    - --initial-cluster=$initial_cluster$cluster_state
    - --key-file=/etc/kubernetes/pki/etcd/server.key
    - --listen-client-urls=$listen_client
    - --listen-peer-urls=https://$ip:$peer_port
    - --name=$node
    - --peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt
    - --peer-client-cert-auth=true
    - --peer-key-file=/etc/kubernetes/pki/etcd/peer.key
    - --peer-trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt$quota
    - --snapshot-count=10000
    - --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt
    image: registry.k8s.io/etcd:3.5.15-0
    name: etcd
    volumeMounts:
    - mountPath: $data_host
      name: etcd-data
    - mountPath: /etc/kubernetes/pki/etcd
      name: etcd-certs
  hostNetwork: true
  priorityClassName: system-node-critical
  volumes:
  - hostPath:
      path: /etc/kubernetes/pki/etcd
      type: DirectoryOrCreate
    name: etcd-certs
  - hostPath:
      path: $data_host
      type: DirectoryOrCreate
    name: etcd-data
status: {}
MANIFEST
  cat > "$k/manifests/kube-apiserver.yaml" <<MANIFEST
apiVersion: v1
kind: Pod
metadata:
  labels:
    component: kube-apiserver
    tier: control-plane
  name: kube-apiserver
  namespace: kube-system
spec:
  containers:
  - command:
    - kube-apiserver
    - --advertise-address=$ip
    - --client-ca-file=/etc/kubernetes/pki/ca.crt
    - --etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt
    - --etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt
    - --etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key
    - --etcd-servers=https://127.0.0.1:$client_port
    - --service-account-key-file=/etc/kubernetes/pki/sa.pub
    - --service-account-signing-key-file=/etc/kubernetes/pki/sa.key
    - --tls-cert-file=/etc/kubernetes/pki/apiserver.crt
    - --tls-private-key-file=/etc/kubernetes/pki/apiserver.key
    image: registry.k8s.io/kube-apiserver:v1.31.2
    name: kube-apiserver
    volumeMounts:
    - mountPath: /etc/ssl/certs
      name: ca-certs
      readOnly: true
    - mountPath: /etc/ca-certificates
      name: etc-ca-certificates
      readOnly: true
    - mountPath: /etc/pki
      name: etc-pki
      readOnly: true
    - mountPath: /etc/kubernetes/pki
      name: k8s-certs
      readOnly: true
    - mountPath: /usr/local/share/ca-certificates
      name: usr-local-share-ca-certificates
      readOnly: true
    - mountPath: /usr/share/ca-certificates
      name: usr-share-ca-certificates
      readOnly: true
  hostNetwork: true
  volumes:
  - hostPath:
      path: /etc/ssl/certs
      type: DirectoryOrCreate
    name: ca-certs
  - hostPath:
      path: /etc/ca-certificates
      type: DirectoryOrCreate
    name: etc-ca-certificates
  - hostPath:
      path: /etc/pki
      type: DirectoryOrCreate
    name: etc-pki
  - hostPath:
      path: /etc/kubernetes/pki
      type: DirectoryOrCreate
    name: k8s-certs
  - hostPath:
      path: /usr/local/share/ca-certificates
      type: DirectoryOrCreate
    name: usr-local-share-ca-certificates
  - hostPath:
      path: /usr/share/ca-certificates
      type: DirectoryOrCreate
    name: usr-share-ca-certificates
status: {}
MANIFEST
  cat > "$k/manifests/kube-controller-manager.yaml" <<'MANIFEST'
apiVersion: v1
kind: Pod
metadata:
  name: kube-controller-manager
  namespace: kube-system
spec:
  containers:
  - command:
    - kube-controller-manager
    - --kubeconfig=/etc/kubernetes/controller-manager.conf
    - --root-ca-file=/etc/kubernetes/pki/ca.crt
    - --service-account-private-key-file=/etc/kubernetes/pki/sa.key
    image: registry.k8s.io/kube-controller-manager:v1.31.2
    name: kube-controller-manager
  hostNetwork: true
  volumes:
  - hostPath:
      path: /etc/ssl/certs
      type: DirectoryOrCreate
    name: ca-certs
  - hostPath:
      path: /usr/libexec/kubernetes/kubelet-plugins/volume/exec
      type: DirectoryOrCreate
    name: flexvolume-dir
  - hostPath:
      path: /etc/kubernetes/pki
      type: DirectoryOrCreate
    name: k8s-certs
  - hostPath:
      path: /etc/kubernetes/controller-manager.conf
      type: FileOrCreate
    name: kubeconfig
status: {}
MANIFEST
  cat > "$k/manifests/kube-scheduler.yaml" <<'MANIFEST'
apiVersion: v1
kind: Pod
metadata:
  name: kube-scheduler
  namespace: kube-system
spec:
  containers:
  - command:
    - kube-scheduler
    - --kubeconfig=/etc/kubernetes/scheduler.conf
    image: registry.k8s.io/kube-scheduler:v1.31.2
    name: kube-scheduler
  hostNetwork: true
  volumes:
  - hostPath:
      path: /etc/kubernetes/scheduler.conf
      type: FileOrCreate
    name: kubeconfig
status: {}
MANIFEST
  chmod 600 "$k"/manifests/*.yaml
}

# sandbox_kubeadm_config ROOT NAME IP DATA_DIR: the cluster's kubeadm ClusterConfiguration for
# the node ROOT (named NAME, at IP, its etcd data dir DATA_DIR), with etcd's flags in the
# v1beta3 map form, as `kubeadm config view` saved it (what tests/fakes/kubeadm reads)
sandbox_kubeadm_config() {
  local root=$1 name=$2 ip=$3 data_dir=$4 cport pport listen
  cport=$(cat "$root/.sandbox-client-port")
  pport=$(cat "$root/.sandbox-peer-port")
  listen="https://127.0.0.1:$cport"
  [ "$ip" = 127.0.0.1 ] || listen="$listen,https://$ip:$cport"
  cat <<YAML
apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
kubernetesVersion: v1.31.2
clusterName: kubernetes
controlPlaneEndpoint: $ip:6443
etcd:
  local:
    dataDir: $data_dir
    extraArgs:
      name: $name
      listen-client-urls: $listen
      advertise-client-urls: https://$ip:$cport
      listen-peer-urls: https://$ip:$pport
      initial-advertise-peer-urls: https://$ip:$pport
      initial-cluster: $name=https://$ip:$pport
YAML
}

# SANDBOX_NODE_NAME, SANDBOX_NODE_IP (a loopback address), SANDBOX_CLIENT_PORT and
# SANDBOX_PEER_PORT choose the member's name, address and ports.
sandbox_make_node() {
  local root=$1
  local node=${SANDBOX_NODE_NAME:-cp-1}
  local ip=${SANDBOX_NODE_IP:-127.0.0.1}
  local client_port=${SANDBOX_CLIENT_PORT:-} peer_port=${SANDBOX_PEER_PORT:-}
  [ -n "$client_port" ] || client_port=$(_sandbox_free_port)
  [ -n "$peer_port" ] || peer_port=$(_sandbox_free_port)
  while [ "$peer_port" = "$client_port" ]; do peer_port=$(_sandbox_free_port); done

  local data_dir=${SANDBOX_ETCD_DATA_DIR:-/var/lib/etcd}
  mkdir -p "$root"/etc/kubernetes/{pki/etcd,manifests} "$root$data_dir" "$root"/etc/kdr
  chmod 700 "$root$data_dir"
  local pki=$root/etc/kubernetes/pki
  sandbox_write_pki "$root" "$node" "$ip"
  sandbox_write_manifests "$root" "$node" "$ip" "$client_port" "$peer_port"

  # System CA folders as Debian lays them out: certificates under /usr/share, symlinks
  # (relative and absolute) from /etc/ssl/certs, a hash-named link, an empty local folder.
  mkdir -p "$root"/usr/share/ca-certificates/mozilla "$root"/etc/ssl/certs \
    "$root"/etc/ca-certificates/update.d "$root"/usr/local/share/ca-certificates
  local i
  for i in 1 2 3 4 5; do
    cp "$pki/ca.crt" "$root/usr/share/ca-certificates/mozilla/Sandbox_Root_$i.crt"
    ln -s "/usr/share/ca-certificates/mozilla/Sandbox_Root_$i.crt" "$root/etc/ssl/certs/Sandbox_Root_$i.pem"
  done
  ln -s Sandbox_Root_1.pem "$root/etc/ssl/certs/a1b2c3d4.0"
  cat "$root"/usr/share/ca-certificates/mozilla/*.crt > "$root/etc/ssl/certs/ca-certificates.crt"
  echo "mozilla/Sandbox_Root_1.crt" > "$root/etc/ca-certificates.conf"
  : > "$root/etc/ca-certificates/update.d/.keep"

  # The kubelet creates DirectoryOrCreate host paths when it starts the pods.
  mkdir -p "$root/etc/pki" "$root/usr/libexec/kubernetes/kubelet-plugins/volume/exec"

  echo "$client_port" > "$root/.sandbox-client-port"
  echo "$peer_port" > "$root/.sandbox-peer-port"
  echo "$node" > "$root/.sandbox-node-name"
  echo "$ip" > "$root/.sandbox-node-ip"
  echo "$data_dir" > "$root/.sandbox-etcd-data-dir"
}

# sandbox_make_ha_cluster ROOT1 ROOT2 ROOT3: three stacked control-plane nodes of one cluster,
# as `kubeadm init` and two `kubeadm join --control-plane` lay them out: the CAs and the
# service-account key shared, each node its own certificates and address (127.0.0.11-13), and
# each running under its own kubelet stand-in. Each joining member is added through `etcdctl
# member add` on the first before its manifest (the members so far, state existing) is
# written, as kubeadm does. Every member serves on 127.0.0.1 and on its address.
sandbox_make_ha_cluster() {
  local roots=("$@") n=0 root ip peer client cluster='' first=$1 f
  for root in "${roots[@]}"; do
    n=$((n + 1))
    ip=127.0.0.$((10 + n))
    client=$(_sandbox_free_port)
    peer=$(_sandbox_free_port)
    while [ "$peer" = "$client" ]; do peer=$(_sandbox_free_port); done
    cluster="${cluster:+$cluster,}cp-$n=https://$ip:$peer"
    if [ "$n" -gt 1 ]; then
      mkdir -p "$root/etc/kubernetes/pki/etcd"
      for f in ca.crt ca.key front-proxy-ca.crt front-proxy-ca.key etcd/ca.crt etcd/ca.key sa.key sa.pub; do
        cp -p "$first/etc/kubernetes/pki/$f" "$root/etc/kubernetes/pki/$f"
      done
      # etcd refuses a voting member while the last one added has not been up for a while
      # ("unhealthy cluster"): kubeadm retries too
      local tries=0
      until sandbox_etcdctl "$first" member add "cp-$n" --peer-urls "https://$ip:$peer" >/dev/null 2>&1; do
        tries=$((tries + 1))
        [ "$tries" -lt 60 ] || { echo "sandbox: etcd did not accept member cp-$n" >&2; return 1; }
        sleep 0.5
      done
    fi
    SANDBOX_NODE_NAME=cp-$n SANDBOX_NODE_IP=$ip SANDBOX_CLIENT_PORT=$client SANDBOX_PEER_PORT=$peer \
      SANDBOX_ETCD_INITIAL_CLUSTER=$cluster SANDBOX_ETCD_CLUSTER_STATE=$([ "$n" -gt 1 ] && echo existing || echo new) \
      sandbox_make_node "$root"
    sandbox_start_kubelet "$root"
    sandbox_wait_etcd "$root" 30 || return 1
  done
}

sandbox_etcdctl() {
  local root=$1
  shift
  local pki=$root/etc/kubernetes/pki/etcd
  ETCDCTL_API=3 etcdctl --endpoints "https://127.0.0.1:$(cat "$root/.sandbox-client-port")" \
    --cacert "$pki/ca.crt" --cert "$pki/healthcheck-client.crt" --key "$pki/healthcheck-client.key" \
    --dial-timeout 5s --command-timeout 60s "$@"
}

sandbox_start_etcd() {
  local root=$1
  local client_port peer_port node pki=$root/etc/kubernetes/pki/etcd
  client_port=$(cat "$root/.sandbox-client-port")
  peer_port=$(cat "$root/.sandbox-peer-port")
  node=$(cat "$root/.sandbox-node-name")
  # SANDBOX_ETCD_HOST_DATA: a data dir outside the node (external etcd on another host)
  local data=${SANDBOX_ETCD_HOST_DATA:-$root$(cat "$root/.sandbox-etcd-data-dir" 2>/dev/null || echo /var/lib/etcd)}
  etcd --name "$node" --data-dir "$data" \
    --listen-client-urls "https://127.0.0.1:$client_port" --advertise-client-urls "https://127.0.0.1:$client_port" \
    --listen-peer-urls "https://127.0.0.1:$peer_port" --initial-advertise-peer-urls "https://127.0.0.1:$peer_port" \
    --initial-cluster "$node=https://127.0.0.1:$peer_port" \
    --cert-file "$pki/server.crt" --key-file "$pki/server.key" --client-cert-auth --trusted-ca-file "$pki/ca.crt" \
    --peer-cert-file "$pki/peer.crt" --peer-key-file "$pki/peer.key" --peer-client-cert-auth \
    --peer-trusted-ca-file "$pki/ca.crt" --snapshot-count 10000 --quota-backend-bytes 8589934592 \
    >"$root/.sandbox-etcd.log" 2>&1 &
  local pid=$!
  SANDBOX_ETCD_PIDS+=("$pid")
  echo "$pid" > "$root/.sandbox-etcd.pid"
  local i
  for i in $(seq 1 100); do
    if ! kill -0 "$pid" 2>/dev/null || ! ps -p "$pid" -o stat= | grep -qv Z; then
      echo "sandbox: etcd exited; see $root/.sandbox-etcd.log" >&2
      return 1
    fi
    if sandbox_etcdctl "$root" --dial-timeout 1s endpoint health >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "sandbox: etcd did not become healthy in 10 s; see $root/.sandbox-etcd.log" >&2
  return 1
}

_sandbox_kill() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}

sandbox_stop_etcd() {
  local root=$1
  [ -f "$root/.sandbox-etcd.pid" ] || return 0
  local pid p rest=()
  pid=$(cat "$root/.sandbox-etcd.pid")
  _sandbox_kill "$pid"
  rm -f "$root/.sandbox-etcd.pid"
  for p in "${SANDBOX_ETCD_PIDS[@]}"; do [ "$p" = "$pid" ] || rest+=("$p"); done
  SANDBOX_ETCD_PIDS=("${rest[@]}")
}

sandbox_stop_all() {
  local pid
  for pid in "${SANDBOX_KUBELET_PIDS[@]}"; do _sandbox_kill "$pid"; done
  SANDBOX_KUBELET_PIDS=()
  for pid in "${SANDBOX_ETCD_PIDS[@]}"; do _sandbox_kill "$pid"; done
  SANDBOX_ETCD_PIDS=()
}

_sandbox_kubelet_bin() {
  local here
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  local b
  for b in "${KDR_KUBELET:-}" "$here/build/demo/kubelet-standin"; do
    [ -n "$b" ] && [ -x "$b" ] && { echo "$b"; return; }
  done
  echo "sandbox: the kubelet stand-in is not built (set KDR_KUBELET)" >&2
  return 1
}

# sandbox_start_kubelet ROOT: the stand-in's state and logs go to ROOT.kubelet/ (outside the node).
sandbox_start_kubelet() {
  local root=$1 bin
  bin=$(_sandbox_kubelet_bin) || return 1
  mkdir -p "$root.kubelet"
  "$bin" --root "$root" --state "$root.kubelet" --interval-ms "${SANDBOX_KUBELET_INTERVAL_MS:-200}" \
    >>"$root.kubelet/kubelet.log" 2>&1 &
  local pid=$!
  SANDBOX_KUBELET_PIDS+=("$pid")
  echo "$pid" > "$root.kubelet/pid"
}

sandbox_stop_kubelet() {
  local root=$1
  [ -f "$root.kubelet/pid" ] || return 0
  local pid p rest=()
  pid=$(cat "$root.kubelet/pid")
  _sandbox_kill "$pid"
  rm -f "$root.kubelet/pid"
  for p in "${SANDBOX_KUBELET_PIDS[@]}"; do [ "$p" = "$pid" ] || rest+=("$p"); done
  SANDBOX_KUBELET_PIDS=("${rest[@]}")
}

# sandbox_wait_etcd ROOT [SECONDS]: until etcd answers on the node's client port.
sandbox_wait_etcd() {
  local root=$1 secs=${2:-30} i
  for i in $(seq 1 $((secs * 5))); do
    if sandbox_etcdctl "$root" --dial-timeout 1s endpoint health >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "sandbox: etcd did not answer in $secs s; see $root.kubelet/" >&2
  return 1
}

# sandbox_fill_etcd ROOT COUNT VALUE_BYTES [PREFIX]: COUNT keys of VALUE_BYTES random bytes,
# written through etcdctl (a few keys per process), to give the data dir real size.
sandbox_fill_etcd() {
  local root=$1 count=$2 size=$3 prefix=${4:-/registry/configmaps/default/bulk-}
  local i raw=$(( size * 3 / 4 ))
  for i in $(seq 1 "$count"); do
    head -c "$raw" /dev/urandom | base64 -w0 | sandbox_etcdctl "$root" put "$prefix$i" >/dev/null
  done
}
