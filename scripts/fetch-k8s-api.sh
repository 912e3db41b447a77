#!/usr/bin/env bash
# Fetches Kubernetes' own API type definitions, k8s.io/api and k8s.io/apimachinery 0.32
# (Kubernetes 1.32), as Debian 13 (trixie) packages them in golang-k8s-api-dev and
# golang-k8s-apimachinery-dev, into a private folder of the build. Nothing is installed into
# the system: a private sources list, `apt-get download`, `dpkg -x` (scripts/lib/debian13.sh).
#
#   scripts/fetch-k8s-api.sh [DIR]      default: build/k8s-api in the source tree
#
# Kept under DIR/src/k8s.io/...: each API package's generated.proto (what kube-apiserver
# encodes objects with) and its Go sources without tests (the json tags kdr prints by, the
# group names); DIR/VERSION the two package versions. The build turns them into a protobuf
# descriptor set and a field table (k8s/CMakeLists.txt).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$src/build/k8s-api}

if [ -f "$dir/VERSION" ] && [ -f "$dir/src/k8s.io/api/core/v1/generated.proto" ]; then
  echo "fetch-k8s-api: $(tr '\n' ' ' < "$dir/VERSION")present in $dir"
  exit 0
fi
. "$src/scripts/lib/debian13.sh"
export DEBIAN13_LISTS=${DEBIAN13_LISTS:-$src/build/.debian13-lists}
work=$(mktemp -d "${TMPDIR:-/tmp}/kdr-fetch-k8s-api-XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "fetch-k8s-api: Kubernetes' API types into $dir"
debian13_unpack "$work" "$work/root" golang-k8s-api-dev golang-k8s-apimachinery-dev

gocode=$work/root/usr/share/gocode/src
rm -rf "$dir.new"
mkdir -p "$dir.new/src"
# Every package that has a generated.proto: the .proto and the Go files that declare its types.
(cd "$gocode" && find k8s.io -name generated.proto -not -path '*/testapigroup/*' -printf '%h\n') | sort |
  while read -r pkg; do
    mkdir -p "$dir.new/src/$pkg"
    cp "$gocode/$pkg/generated.proto" "$dir.new/src/$pkg/"
    find "$gocode/$pkg" -maxdepth 1 -name '*.go' -not -name '*_test.go' -not -name 'generated.pb.go' \
      -not -name 'zz_generated*' -not -name '*swagger_doc*' -exec cp {} "$dir.new/src/$pkg/" \;
  done
for p in golang-k8s-api-dev golang-k8s-apimachinery-dev; do
  echo "$p $(dpkg-deb -f "$work"/debs/${p}_*.deb Version)"
done > "$dir.new/VERSION"
n=$(find "$dir.new/src" -name generated.proto | wc -l)
[ "$n" -ge 60 ] || { echo "fetch-k8s-api: only $n generated.proto files in the packages" >&2; exit 1; }
rm -rf "$dir"
mv "$dir.new" "$dir"
echo "fetch-k8s-api: $n API packages ($(tr '\n' ' ' < "$dir/VERSION")) in $dir"
