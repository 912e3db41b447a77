#!/usr/bin/env bash
# Generations forged to attack the node they are restored on: manifest paths with '..' or
# a NUL byte, absolute paths outside every source, an entry beneath a symlink that points
# outside the target, a folder of the generation replaced by a symlink, a file of the
# generation hard-linked to a file outside the backup folder, meta.json naming a generation
# file outside the generation, a setuid-root file, an etcd manifest naming an operator's folder
# as the data dir, and a plain symlink to a file outside. Every forged file is consistent with
# its manifest and SHA256SUMS; only AUTH (the node's key) and the layout and content guards
# behind it can catch it. verify flags each one (exit 4, the finding named), and a restore from
# it refuses before changing anything, once for its AUTH and once, AUTH removed and
# unauthenticated=true given, for the guard's own reason: the node and the outside folder are
# byte for byte as before.
source "$(dirname "$0")/../lib/reliability.sh"

rounds=$(trials 1 15)
make_node_with_etcd_data 5 1000
expect_rc 0 kdr -q backup
BASE=$(latest_gen)
OUTSIDE=$T/outside
mkdir -p "$OUTSIDE"
echo "the operator's own secret" > "$OUTSIDE/secret"
chmod 600 "$OUTSIDE/secret"

outside_state() { (cd "$OUTSIDE" && find . -printf '%P|%y|%m|%s|%T@|%l\n' | sort && find . -type f -print0 | sort -z | xargs -0 -r sha256sum); }
sha() { sha256sum "$1" | cut -d' ' -f1; }
entry_json() {  # PATH TYPE FILE_OR_TARGET: one manifest line
  case $2 in
    file) jq -cn --arg p "$1" --arg h "$(sha "$3")" --argjson s "$(stat -c %s "$3")" \
      '{gid:0,mode:"0644",mtime:1700000000,mtime_nsec:0,path:$p,sha256:$h,size:$s,type:"file",uid:0}' ;;
    symlink) jq -cn --arg p "$1" --arg t "$3" '{gid:0,mode:"0777",mtime:1700000000,mtime_nsec:0,path:$p,target:$t,type:"symlink",uid:0}' ;;
  esac
}
# forge ID: a copy of the base generation, published under ID, to be edited
forge() {
  G=$BACKUP/generations/$1
  cp -a "$BASE" "$G"
}
resum() { (cd "$G" && jq -r '.artifacts[] | "\(.sha256)  \(.path)"' meta.json &&
  tail -n +2 manifest.jsonl | jq -r 'select(.type=="file") | "\(.sha256)  files\(.path)"') > "$G/SHA256SUMS"; }

declare -A flagged=()
# attack ID KIND AUTH_REASON REASON: verify must report KIND (or an unreadable manifest); a
# restore from it refuses, saying AUTH_REASON (its AUTH no longer matches, unless the manifest
# cannot even be read), then, AUTH removed and unauthenticated=true given, saying REASON (the
# layout check itself), and changes nothing
attack() {
  local id=$1 kind=$2 auth_reason=$3 reason=$4
  expect_rc 4 kdr verify --no-live --json "$id"
  jq -e --arg k "$kind" '[.findings[] | select(.severity == "error" and .kind == $k)] | length > 0' <<<"$OUT" >/dev/null ||
    { echo "$OUT" | jq -c '.findings[] | select(.severity != "info")' >&2; fail "$id: verify did not flag $kind"; }
  refused "$id" "$auth_reason" "${ATTACK_ARGS[@]}"
  rm "$G/AUTH"
  refused "$id" "$reason" --set unauthenticated=true "${ATTACK_ARGS[@]}"
  flagged[$kind]=$(( ${flagged[$kind]:-0} + 1 ))
  rm -rf "$G"
}
# refused ID REASON [ARGS...]: restore-files from ID refuses, saying REASON, and changes nothing
# on the node or outside it; the file the attack plants ($PLANTED) is not there
refused() {
  local id=$1 reason=$2 before outside_before rc
  shift 2
  before=$(node_state)
  outside_before=$(outside_state)
  rc=0
  OUT=$(kdr restore restore-files -g "$id" --yes "$@" 2>&1) || rc=$?
  [ "$rc" -eq 1 ] || [ "$rc" -eq 2 ] || { echo "$OUT" >&2; fail "$id: a restore from a forged generation exited $rc"; }
  assert_contains "$OUT" "$reason"
  diff <(echo "$before") <(node_state) >/dev/null || fail "$id: the restore changed the node"
  diff <(echo "$outside_before") <(outside_state) >/dev/null || fail "$id: something outside the node changed"
  [ ! -e "$PLANTED" ] || fail "$id: the planted file $PLANTED was written"
}
stamp=$(basename "$BASE" | cut -c1-18)
n=0
ATTACK_ARGS=()  # more arguments for the restores of an attack
# an operator's folder outside everything the node backs up
mkdir -p "$ROOT/opt/victim"
echo "ssh-ed25519 AAAA the operator's key" > "$ROOT/opt/victim/authorized_keys"
for r in $(seq 1 "$rounds"); do
  victim=$(tail -n +2 "$BASE/manifest.jsonl" | jq -r 'select(.type=="file" and (.path|startswith("/etc/kubernetes/pki"))) | .path' | shuf -n 1)
  echo "planted $r" > "$T/planted"

  PLANTED=$ROOT/etc/cron.d/kdr-planted
  n=$((n + 1)); forge "${stamp}.$((n + 100))"           # '..' in a manifest path
  entry_json "/etc/kubernetes/../../etc/cron.d/kdr-planted" file "$T/planted" >> "$G/manifest.jsonl"
  attack "${stamp}.$((n + 100))" manifest "contains '..'" \
    "contains '..'"

  n=$((n + 1)); forge "${stamp}.$((n + 100))"           # NUL byte in a path
  jq -cn '{gid:0,mode:"0644",mtime:1,mtime_nsec:0,path:"/etc/kubernetes/x\u0000/../../etc/cron.d/kdr-planted",sha256:"",size:0,type:"file",uid:0}' >> "$G/manifest.jsonl"
  attack "${stamp}.$((n + 100))" manifest "contains a NUL byte" \
    "contains a NUL byte"

  n=$((n + 1)); forge "${stamp}.$((n + 100))"           # absolute path outside every source
  mkdir -p "$G/files/etc/cron.d" && cp "$T/planted" "$G/files/etc/cron.d/kdr-planted"
  entry_json /etc/cron.d/kdr-planted file "$T/planted" >> "$G/manifest.jsonl"; resum
  attack "${stamp}.$((n + 100))" outside-sources "is not what this node's key" \
    "lies outside every source of this generation: a restore never writes it"

  PLANTED=$OUTSIDE/planted
  n=$((n + 1)); forge "${stamp}.$((n + 100))"           # a file beneath a symlink pointing outside
  ln -s "$OUTSIDE" "$G/files/etc/kubernetes/pki/escape"
  entry_json /etc/kubernetes/pki/escape symlink "$OUTSIDE" >> "$G/manifest.jsonl"
  entry_json /etc/kubernetes/pki/escape/planted file "$T/planted" >> "$G/manifest.jsonl"; resum
  attack "${stamp}.$((n + 100))" beneath-symlink "is not what this node's key" \
    "writing it would write through the link"

  PLANTED=$ROOT/etc/cron.d/kdr-planted
  n=$((n + 1)); forge "${stamp}.$((n + 100))"           # a folder of the generation swapped for a symlink
  d=$(dirname "$victim")
  mv "$G/files$d" "$G/files$d.real" && ln -s "$OUTSIDE" "$G/files$d"
  cp "$G/files$d.real/$(basename "$victim")" "$OUTSIDE/$(basename "$victim")"
  rm -rf "$G/files$d.real"
  attack "${stamp}.$((n + 100))" unsafe-path "is not what this node's key" \
    "in the generation is not a folder (a symlink?): not followed"
  rm -f "$OUTSIDE/$(basename "$victim")"

  n=$((n + 1)); forge "${stamp}.$((n + 100))"           # a hard link to a file outside the backup folder
  rm "$G/files$victim" && ln "$OUTSIDE/secret" "$G/files$victim"
  tail -n +2 "$G/manifest.jsonl" | jq -c --arg p "$victim" --arg h "$(sha "$OUTSIDE/secret")" --argjson s "$(stat -c %s "$OUTSIDE/secret")" \
    'if .path == $p then .sha256 = $h | .size = $s | .mode = "0600" | .mtime = '"$(stat -c %Y "$OUTSIDE/secret")"' | .mtime_nsec = '"$(stat -c %y "$OUTSIDE/secret" | sed 's/.*\.\([0-9]*\).*/\1/' | sed 's/^0*//;s/^$/0/')"' else . end' > "$T/m"
  { echo '{"kdr_manifest":1}'; cat "$T/m"; } > "$G/manifest.jsonl"; resum
  attack "${stamp}.$((n + 100))" hard-link-outside "is not what this node's key" \
    "shares its data with 1 file(s) outside the backup folder"

  n=$((n + 1)); forge "${stamp}.$((n + 100))"           # meta.json naming a file outside the generation
  jq --arg s "$(sha "$OUTSIDE/secret")" '.artifacts += [{path: "../../../../outside/secret", sha256: $s, size: 26}]' "$G/meta.json" > "$T/meta" && mv "$T/meta" "$G/meta.json"
  attack "${stamp}.$((n + 100))" unsafe-path "is not what this node's key" \
    "meta.json names a generation file outside the generation's own folders: not read"

  # content, every sum recomputed (only AUTH, and the guards behind it, can tell)
  PLANTED=$ROOT/etc/kubernetes/helper
  n=$((n + 1)); forge "${stamp}.$((n + 100))"           # a setuid-root shell among the node's files
  printf '#!/bin/sh\nexec /bin/sh -p\n' > "$G/files/etc/kubernetes/helper"
  chmod 4755 "$G/files/etc/kubernetes/helper"
  entry_json /etc/kubernetes/helper file "$G/files/etc/kubernetes/helper" | jq -c '.mode = "4755"' >> "$G/manifest.jsonl"; resum
  attack "${stamp}.$((n + 100))" forged "is not what this node's key" \
    "setuid/setgid files whose counterparts on the node are not: /etc/kubernetes/helper (4755)"

  PLANTED=$ROOT/opt/victim/planted
  n=$((n + 1)); forge "${stamp}.$((n + 100))"           # etcd's manifest naming an operator's folder as its data dir
  sed -i 's|/var/lib/etcd|/opt/victim|' "$G/files/etc/kubernetes/manifests/etcd.yaml"
  mkdir -p "$G/files/opt/victim" && cp "$T/planted" "$G/files/opt/victim/planted"
  tail -n +2 "$G/manifest.jsonl" |
    jq -c --arg h "$(sha "$G/files/etc/kubernetes/manifests/etcd.yaml")" --argjson s "$(stat -c %s "$G/files/etc/kubernetes/manifests/etcd.yaml")" \
      'if .path == "/etc/kubernetes/manifests/etcd.yaml" then .sha256 = $h | .size = $s else . end' > "$T/m"
  { echo '{"kdr_manifest":1}'; cat "$T/m"
    jq -cn '{gid:0,mode:"0700",mtime:1700000000,mtime_nsec:0,path:"/opt/victim",type:"dir",uid:0}'
    entry_json /opt/victim/planted file "$T/planted"; } > "$G/manifest.jsonl"
  jq '.sources += [{path: "/opt/victim", present: true, reason: "forged", bytes: 0, dirs: 1, files: 1, symlinks: 0}]' \
    "$G/meta.json" > "$T/meta" && mv "$T/meta" "$G/meta.json"
  resum
  ATTACK_ARGS=(--set etcd=raw)
  attack "${stamp}.$((n + 100))" forged "is not what this node's key" \
    "is outside everything this node backs up as configured now"
  ATTACK_ARGS=()
  assert_eq "$(cat "$ROOT/opt/victim/authorized_keys")" "ssh-ed25519 AAAA the operator's key" "the operator's folder"

  n=$((n + 1)); forge "${stamp}.$((n + 100))"           # a plain symlink under /etc/kubernetes to a file outside
  ln -s "$OUTSIDE/secret" "$G/files/etc/kubernetes/pki/stolen.key"
  entry_json /etc/kubernetes/pki/stolen.key symlink "$OUTSIDE/secret" >> "$G/manifest.jsonl"
  rc=0; OUT=$(kdr verify --no-live --json "${stamp}.$((n + 100))" 2>&1) || rc=$?
  [ "$rc" -eq 4 ] && jq -e '[.findings[] | select(.kind == "symlink-outside" and .severity == "warning")] | length > 0' <<<"$OUT" >/dev/null ||
    fail "a symlink under /etc/kubernetes pointing outside was not flagged"
  flagged[symlink-outside]=$(( ${flagged[symlink-outside]:-0} + 1 ))
  rm -rf "$G"
done
kdr_verify_all
summary=""
for k in "${!flagged[@]}"; do summary+="$k ${flagged[$k]}, "; done
echo "$n forged generations; flagged: $summary"
record "forged generations: '..' and NUL in paths, paths outside the sources, entries beneath a symlink, a generation folder swapped for a symlink, hard links to files outside, meta.json naming files outside, a setuid-root file and an etcd manifest naming an operator's folder (sums recomputed), symlinks pointing outside" "$n" \
  "verify flagged every one (exit 4; ${summary%, }); a restore-files from the 9 kinds that would write or read outside refused before changing anything, for the reason each check names: first the generation's AUTH (or its unreadable manifest), then, AUTH removed and unauthenticated=true given, the layout or content guard itself; the node, the operator's folder and the outside folder identical byte for byte, the planted file nowhere" \
  nothing
