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
suite=trixie
keyring=/usr/share/keyrings/debian-archive-$suite-stable.gpg

if [ -x "$dir/bin/etcd" ] && [ -x "$dir/bin/etcdutl" ] && [[ "$("$dir/bin/etcd" --version 2>/dev/null)" == *"Version: 3.5."* ]]; then
  echo "fetch-etcd: $(cat "$dir/VERSION" 2>/dev/null || echo 3.5) present in $dir"
  exit 0
fi
[ -f "$keyring" ] || { echo "fetch-etcd: $keyring missing (package debian-archive-keyring)" >&2; exit 1; }

# The URI of the machine's own Debian archive (deb.debian.org or a mirror).
mirror=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
  grep -v security | grep -oE 'https?://[^ ]+' | head -n 1 || true)
mirror=${mirror:-http://deb.debian.org/debian}

work=$(mktemp -d "${TMPDIR:-/tmp}/kdr-fetch-etcd-XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs" "$work/root"
echo "deb [signed-by=$keyring] $mirror $suite main" > "$work/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root -qq)
echo "fetch-etcd: etcd 3.5 from Debian $suite ($mirror), into $dir"
apt-get "${apt_opts[@]}" update
(cd "$work/debs" && apt-get "${apt_opts[@]}" download etcd-server etcd-client)
for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$work/root"; done

rm -rf "$dir.new"
mkdir -p "$dir.new/bin"
for b in etcd etcdctl etcdutl; do cp "$work/root/usr/bin/$b" "$dir.new/bin/$b"; done
version=$("$dir.new/bin/etcd" --version | sed -n 's/^etcd Version: //p')
case $version in 3.5.*) ;; *) echo "fetch-etcd: expected etcd 3.5, got '$version'" >&2; exit 1 ;; esac
echo "$version" > "$dir.new/VERSION"
rm -rf "$dir"
mv "$dir.new" "$dir"
echo "fetch-etcd: etcd $version in $dir/bin"
