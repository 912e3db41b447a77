#!/usr/bin/env bash
# protoc over every generated.proto under SRC_DIR into one descriptor set (with imports),
# without its "Import ... is unused" warnings (Kubernetes' files import more than they use).
#
#   k8s/gen/descriptor-set.sh PROTOC SRC_DIR OUT_FILE
set -euo pipefail
protoc=$1
srcdir=$2
out=$3
mapfile -t protos < <(cd "$srcdir" && find k8s.io -name generated.proto | sort)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! "$protoc" -I "$srcdir" --include_imports "--descriptor_set_out=$out" "${protos[@]}" 2> "$log"; then
  cat "$log" >&2
  exit 1
fi
grep -v ' is unused\.$' "$log" >&2 || true
