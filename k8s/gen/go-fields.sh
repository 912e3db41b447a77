#!/usr/bin/env bash
# Reads Kubernetes' API packages (their generated.proto and Go sources, fetched by
# scripts/fetch-k8s-api.sh) and writes the table kdr prints objects by, one record per line,
# tab-separated:
#
#   G  <group>  <version>  <proto package>       an API group version ("" is the core group)
#   F  <proto message>  <field number>  <json name>  <omitempty 0|1>  <go kind: ptr|slice|map|value>  <position>
#   S  <proto message>                           a Go slice type (ExtraValue []string): printed as a list
#
# <position> is the field's place in its Go struct: encoding/json prints in that order. A json
# name of -inline- is an embedded struct whose fields print as the outer struct's (`json:",inline"`).
#
# The group name comes from the package's doc.go (`+groupName=`) or register.go (`GroupName =`),
# the fields from the struct tags (`json:"name,omitempty" protobuf:"bytes,3,opt,name=..."`):
# what encoding/json prints and what kube-apiserver's generated Marshal writes (every field
# that is not a pointer, slice or map is always written).
#
#   k8s/gen/go-fields.sh SRC_DIR OUT_FILE
set -euo pipefail
srcdir=$1
out=$2
tmp=$out.tmp
: > "$tmp"
(cd "$srcdir" && find k8s.io -name generated.proto -printf '%h\n') | sort | while read -r dir; do
  pkg=$(sed -n 's/^package \(.*\);$/\1/p' "$srcdir/$dir/generated.proto")
  [ -n "$pkg" ] || { echo "go-fields: no package line in $dir/generated.proto" >&2; exit 1; }
  case $dir in
    k8s.io/api/*)
      group=$(sed -n 's#^// +groupName=\(.*\)$#\1#p' "$srcdir/$dir/doc.go" 2>/dev/null | head -n 1)
      if [ -z "$group" ] && [ -f "$srcdir/$dir/register.go" ]; then
        group=$(sed -n 's/^const GroupName = "\(.*\)"$/\1/p' "$srcdir/$dir/register.go" | head -n 1)
      fi
      printf 'G\t%s\t%s\t%s\n' "$group" "${dir##*/}" "$pkg" >> "$tmp"
      ;;
  esac
  for f in "$srcdir/$dir"/*.go; do
    awk -v pkg="$pkg" -v file="$f" '
      /^type [A-Za-z0-9_]+ struct \{/ { current = $2; position = 0; next }
      /^type [A-Za-z0-9_]+ \[\][A-Za-z0-9_.]+$/ { printf "S\t%s.%s\n", pkg, $2; next }
      /^\}/ { current = ""; next }
      /^[ \t]*\/\// { next }
      current != "" && /protobuf:"/ {
        line = $0
        tick = index(line, "`")
        if (tick == 0) next
        head = substr(line, 1, tick - 1)
        tags = substr(line, tick + 1)
        sub(/\/\/.*/, "", head)
        n = split(head, words, " ")
        m = 0
        delete w
        for (i = 1; i <= n; i++) if (words[i] != "" && words[i] != "\t") w[++m] = words[i]
        gsub(/\t/, "", w[1]); gsub(/\t/, "", w[2])
        type = (m == 1) ? w[1] : w[2]
        kind = "value"
        if (type ~ /^\*/) kind = "ptr"
        else if (type ~ /^\[\]/) kind = "slice"
        else if (type ~ /^map\[/) kind = "map"
        if (!match(tags, /json:"[^"]*"/)) next
        json = substr(tags, RSTART + 6, RLENGTH - 7)
        omit = (json ~ /,omitempty/) ? 1 : 0
        inline = (json ~ /,inline/) ? 1 : 0
        sub(/,.*/, "", json)
        if (json == "-") next
        if (json == "" && inline) json = "-inline-"
        else if (json == "") json = w[1]
        if (!match(tags, /protobuf:"[a-z0-9]+,[0-9]+,/)) next
        spec = substr(tags, RSTART + 10, RLENGTH - 11)
        sub(/^[a-z0-9]+,/, "", spec)
        printf "F\t%s.%s\t%s\t%s\t%d\t%s\t%d\n", pkg, current, spec, json, omit, kind, ++position
      }' "$f" >> "$tmp"
  done
done
sort -u "$tmp" > "$out"
rm -f "$tmp"
groups=$(grep -c '^G' "$out" || true)
fields=$(grep -c '^F' "$out" || true)
[ "$groups" -ge 50 ] && [ "$fields" -ge 3000 ] || { echo "go-fields: only $groups groups, $fields fields read from $srcdir" >&2; exit 1; }
