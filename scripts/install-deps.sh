#!/usr/bin/env bash
# Installs everything kdr needs to build, test, run its drill and its benchmarks,
# from Debian 12's package archive only (etcd 3.5 and Kubernetes' API types from Debian 13's,
# unpacked into build/etcd-3.5 and build/k8s-api, not installed; Debian 12's sshd likewise
# into build/openssh).
# Safe to run again.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config
  libboost-filesystem-dev libboost-dev libfmt-dev libyaml-cpp-dev libssl-dev libcurl4-openssl-dev
  nlohmann-json3-dev libcli11-dev libzstd-dev zlib1g-dev catch2
  # Kubernetes objects: protobuf (protoc, DynamicMessage) over Kubernetes' own .proto files,
  # libsodium for the secretbox encryption provider, simdjson to check JSON objects at disk speed
  protobuf-compiler libprotobuf-dev libsodium-dev libsimdjson-dev debian-archive-keyring
  # tests and drill: a real etcd, certificates, process tools
  etcd-server etcd-client openssl procps psmisc util-linux bsdutils jq time zstd e2fsprogs netcat-openbsd strace
  # the security tests: an unprivileged user probing sockets and ports
  curl iproute2 inotify-tools
  # the other nodes of an HA cluster over SSH (the client only: the tests run private sshds)
  openssh-client
  # fuzzing: clang with libFuzzer
  clang-14 libclang-rt-14-dev
  # off-site copies: restic, and rclone for the tests' REST server (rclone serve restic)
  restic rclone
  # benchmarks: the tools kdr is compared with
  rsync diffutils
)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root (apt-get needs it)" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts etcd as a service when the package is installed; kdr's tests and drill
  # run their own members on other ports and never use that one.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet etcd 2>/dev/null; then
    systemctl stop etcd || true
  fi
fi
# etcd 3.5 beside Debian 12's 3.4, for the tests: into a folder of the build, never into
# the system (scripts/fetch-etcd.sh).
bash "$(dirname "$0")/fetch-etcd.sh"
# Kubernetes' API types (k8s.io/api 0.32 from Debian 13), which the build compiles into kdr:
# into build/k8s-api, never into the system (scripts/fetch-k8s-api.sh).
bash "$(dirname "$0")/fetch-k8s-api.sh"
# sshd for the tests that reach other nodes over SSH: unpacked into build/openssh, never
# installed (that would start the machine's own sshd) (scripts/fetch-openssh.sh).
bash "$(dirname "$0")/fetch-openssh.sh"
echo "install-deps: done"
