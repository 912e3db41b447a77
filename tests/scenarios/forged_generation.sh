#!/usr/bin/env bash
# Whoever can write the backup disk forges a generation and recomputes every unkeyed sum
# (manifest hashes, SHA256SUMS, meta.json): a setuid-root file planted in /etc/kubernetes. The
# node's key (made 0600 at the first backup, off the backup disk) authenticates each
# generation: the forgery is refused before anything on the node changes, with its AUTH kept
# (forged) or removed (unsigned). unauthenticated=true lets an operator take an unsigned
# generation on purpose, and even then the setuid file the node does not have is refused.
# A replacement machine without the key is asked for it; --set key_file= gives it.
# kdr-test: once
source "$(dirname "$0")/../lib/scenario.sh"

step "the first backup makes the node's key, 0600, and says to keep a copy"
make_running_node
expect_rc 0 kdr backup
assert_contains "$OUT" "made this node's key"
key=$ROOT/etc/kdr/node.key
assert_eq "$(stat -c %a "$key")" 600 "mode of the node key"
grep -q "^kdr-node-key-v1 [0-9a-f]\{64\}$" "$key" || fail "the key file is not one line of kdr's format"
good=$(basename "$(latest_gen)")
[ -f "$BACKUP/generations/$good/AUTH" ] || fail "the generation has no AUTH"
if grep -rq "$(cut -d' ' -f2 "$key")" "$BACKUP"; then fail "the key is on the backup disk"; fi
expect_rc 0 kdr verify --no-live "$good"
# docs/backup-format.md's check by hand gives AUTH's hmac
by_hand=$(cd "$BACKUP/generations/$good" &&
  printf 'kdr generation v1\n%s\n%s\n%s\n%s\n' "$good" "$(sha256sum < meta.json | cut -c1-64)" \
    "$(sha256sum < manifest.jsonl | cut -c1-64)" "$(sha256sum < SHA256SUMS | cut -c1-64)" |
  openssl dgst -sha256 -mac HMAC -macopt hexkey:"$(cut -d' ' -f2 "$key")" | sed 's/.*= //')
assert_eq "$by_hand" "$(jq -r .hmac "$BACKUP/generations/$good/AUTH")" "AUTH's hmac computed by hand"
assert_contains "$OUT" "authenticated with this node's key"
expect_rc 0 kdr backup
assert_not_contains() { case "$1" in *"$2"*) fail "output holds '$2'";; esac; }
assert_not_contains "$OUT" "made this node's key"

step "a forged generation, every sum recomputed: a setuid-root shell in /etc/kubernetes"
forged=2099-01-01T000000Z
cp -a "$BACKUP/generations/$good" "$BACKUP/generations/$forged"
g=$BACKUP/generations/$forged
printf '#!/bin/sh\nexec /bin/sh -p\n' > "$g/files/etc/kubernetes/helper"
chown 0:0 "$g/files/etc/kubernetes/helper"
chmod 4755 "$g/files/etc/kubernetes/helper"
sum=$(sha256sum "$g/files/etc/kubernetes/helper" | cut -d' ' -f1)
mt=$(stat -c %Y "$g/files/etc/kubernetes/helper")
mtn=$(stat -c %y "$g/files/etc/kubernetes/helper" | sed 's/.*\.\([0-9]*\) .*/\1/' | sed 's/^0*//')
{ head -n 1 "$g/manifest.jsonl"
  { tail -n +2 "$g/manifest.jsonl"
    jq -cn --arg s "$sum" --argjson mt "$mt" --argjson mtn "${mtn:-0}" \
      '{gid:0,mode:"4755",mtime:$mt,mtime_nsec:$mtn,path:"/etc/kubernetes/helper",sha256:$s,size:23,type:"file",uid:0}'
  } | jq -sc 'sort_by(.path) | .[]'; } > "$g/manifest.new"
mv "$g/manifest.new" "$g/manifest.jsonl"
(cd "$g" && { grep -v ' files/etc/kubernetes/helper$' SHA256SUMS; echo "$sum  files/etc/kubernetes/helper"; } | sort -k2 > S && mv S SHA256SUMS)
jq --arg id "$forged" '.id = $id' "$g/meta.json" > "$g/meta.new" && mv "$g/meta.new" "$g/meta.json"
ln -sfn "generations/$forged" "$BACKUP/latest"
(cd "$g" && sha256sum -c --quiet --strict SHA256SUMS) || fail "the forgery's sums do not even check"

step "verify says it is forged; restore refuses it before anything on the node changes"
expect_rc 4 kdr verify --no-live "$forged"
assert_contains "$OUT" "[authentication forged]"
before=$(node_state)
expect_rc 1 kdr restore restore-files --yes
assert_contains "$OUT" "is not what this node's key"
assert_eq "$(node_state)" "$before" "the node after the refused restore"
[ ! -e "$ROOT/etc/kubernetes/helper" ] || fail "the forged file reached the node"

step "with AUTH removed it is unsigned: refused unless the operator says unauthenticated=true"
rm "$g/AUTH"
expect_rc 1 kdr restore restore-files --yes
assert_contains "$OUT" "nothing proves that this node wrote it"
assert_contains "$OUT" "--set key_file=PATH"
assert_eq "$(node_state)" "$before" "the node after the refused restore"

step "unauthenticated=true: the setuid file the node does not have is still refused"
expect_rc 1 kdr restore restore-files --yes --set unauthenticated=true
assert_contains "$OUT" "accepted (unauthenticated=true)"
assert_contains "$OUT" "setuid/setgid files whose counterparts on the node are not: /etc/kubernetes/helper (4755)"
assert_eq "$(node_state)" "$before" "the node after the refused restore"

step "the genuine generation restores"
rm -rf "$g"
ln -sfn "generations/$good" "$BACKUP/latest"
expect_rc 0 kdr restore restore-files --yes -g "$good"

step "a replacement machine without the key is asked for it; key_file= gives it"
cp "$key" "$T/saved.key"
rm "$key"
expect_rc 1 kdr restore restore-files --yes -g "$good"
assert_contains "$OUT" "this machine has no key to check it with"
expect_rc 0 kdr restore restore-files --yes -g "$good" --set key_file="$T/saved.key"
assert_contains "$OUT" "authenticated with this node's key"
chmod 644 "$T/saved.key"
expect_rc 1 kdr restore restore-files --yes -g "$good" --set key_file="$T/saved.key"
assert_contains "$OUT" "others must not read it"
