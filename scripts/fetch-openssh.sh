#!/usr/bin/env bash
# Fetches Debian 12's OpenSSH server (sshd, sftp-server and the libwrap it links) into a
# private folder, for the tests that talk to real sshds on loopback (restore-etcd-cluster over
# SSH). Nothing is installed into the system: installing openssh-server would start the
# machine's own sshd on port 22, which kdr's tests never use. `apt-get download` of the
# .debs, `dpkg -x` into DIR.
#
#   scripts/fetch-openssh.sh [DIR]      default: build/openssh in the source tree
#
# DIR/sbin/sshd, DIR/libexec/sftp-server, DIR/lib/ (LD_LIBRARY_PATH for sshd), DIR/VERSION.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$src/build/openssh}

if [ -x "$dir/sbin/sshd" ] && LD_LIBRARY_PATH=$dir/lib "$dir/sbin/sshd" -V 2>&1 | grep -q OpenSSH; then
  echo "fetch-openssh: $(cat "$dir/VERSION" 2>/dev/null || echo sshd) present in $dir"
  exit 0
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/kdr-fetch-openssh-XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debs" "$work/root"
echo "fetch-openssh: openssh-server from the machine's Debian archive, into $dir"
(cd "$work/debs" && apt-get -o APT::Sandbox::User=root -qq download openssh-server openssh-sftp-server libwrap0) || {
  echo "fetch-openssh: apt-get download failed (run apt-get update first)" >&2
  exit 1
}
for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$work/root"; done

rm -rf "$dir.new"
mkdir -p "$dir.new/sbin" "$dir.new/libexec" "$dir.new/lib"
cp "$work/root/usr/sbin/sshd" "$dir.new/sbin/sshd"
cp "$work/root/usr/lib/openssh/sftp-server" "$dir.new/libexec/sftp-server"
cp -P "$work"/root/usr/lib/x86_64-linux-gnu/libwrap.so.0* "$dir.new/lib/" 2>/dev/null ||
  cp -P "$work"/root/lib/x86_64-linux-gnu/libwrap.so.0* "$dir.new/lib/"
version=$(LD_LIBRARY_PATH=$dir.new/lib "$dir.new/sbin/sshd" -V 2>&1 | head -n 1 || true)
case $version in OpenSSH*) ;; *) echo "fetch-openssh: the sshd fetched does not run: '$version'" >&2; exit 1 ;; esac
echo "$version" > "$dir.new/VERSION"
rm -rf "$dir"
mv "$dir.new" "$dir"
echo "fetch-openssh: $version in $dir"
