#!/usr/bin/env bash
# Fetches etcd 3.5 (etcd, etcdctl, etcdutl: what kubeadm 1.29 to 1.33 runs) from Debian 13
# (trixie) into a private folder, so that kdr's tests run on both Debian 12's etcd 3.4 and
# 3.5. Nothing is installed into the system: a private sources list and package lists,
# `apt-get download` of the two .debs, `dpkg -x` into DIR. The binaries need only libc.
#
#   scripts/fetch-etcd.sh [DIR]      default: build/etcd-3.5 in the source tree
#
# DIR/bin then holds etcd, etcdctl and etcdutl; DIR/VERSION the version fetched.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$src/build/etcd-3.5}

if [ -x "$dir/bin/etcd" ] && [ -x "$dir/bin/etcdutl" ] && [[ "$("$dir/bin/etcd" --version 2>/dev/null)" == *"Version: 3.5."* ]]; then
  echo "fetch-etcd: $(cat "$dir/VERSION" 2>/dev/null || echo 3.5) present in $dir"
  exit 0
fi
. "$src/scripts/lib/debian13.sh"
export DEBIAN13_LISTS=${DEBIAN13_LISTS:-$src/build/.debian13-lists}
work=$(mktemp -d "${TMPDIR:-/tmp}/kdr-fetch-etcd-XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "fetch-etcd: etcd 3.5 into $dir"
debian13_unpack "$work" "$work/root" etcd-server etcd-client

rm -rf "$dir.new"
mkdir -p "$dir.new/bin"
for b in etcd etcdctl etcdutl; do cp "$work/root/usr/bin/$b" "$dir.new/bin/$b"; done
version=$("$dir.new/bin/etcd" --version | sed -n 's/^etcd Version: //p')
case $version in 3.5.*) ;; *) echo "fetch-etcd: expected etcd 3.5, got '$version'" >&2; exit 1 ;; esac
echo "$version" > "$dir.new/VERSION"
rm -rf "$dir"
mv "$dir.new" "$dir"
echo "fetch-etcd: etcd $version in $dir/bin"
