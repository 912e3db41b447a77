#!/usr/bin/env bash
# Whoever can write to a shared restic repository forges snapshots that claim to be kdr's:
# a tag whose generation id climbs out of the backup folder (kdr-generation=x/../../..), and a
# snapshot with a valid id whose meta.json names another generation. `kdr offsite list` and
# `pull` name each and leave it out or refuse it; nothing is written outside the backup folder,
# and a refused pull leaves nothing behind.
# kdr-test: once
source "$(dirname "$0")/../lib/scenario.sh"
source "$KDR_SOURCE_DIR/tests/lib/offsite.sh"
REPO=$T/offsite-repo

step "a running node, backed up and pushed"
make_running_node
offsite_config "$REPO"
kdr backup -q
expect_rc 0 kdr offsite init
expect_rc 0 kdr offsite push
node=$(jq -r .hostname "$(latest_gen)/meta.json")
real=$(basename "$(latest_gen)")

step "forged: a generation id that climbs out of the backup folder"
mkdir -p "$T/forge/planted"
echo "planted by whoever writes the repository" > "$T/forge/planted/meta.json"
(cd "$T/forge" && restic_own backup --host "$node" --tag kdr --tag "kdr-node=$node" \
  --tag "kdr-generation=x/../../../planted" --tag kdr-full "$T/forge/planted" >/dev/null)
OUT=$(kdr offsite list 2>&1) || { echo "$OUT"; fail "kdr offsite list failed"; }
assert_contains "$OUT" "its tag kdr-generation=x/../../../planted is not a generation id kdr makes: left out"
assert_contains "$OUT" "$real"
rm -rf "$T/pulled"
OUT=$(kdr offsite pull latest --to "$T/pulled" 2>&1) || { echo "$OUT"; fail "the pull of the real generation failed"; }
assert_contains "$OUT" "is not a generation id kdr makes"
[ -d "$T/pulled/generations/$real" ] || fail "the real generation was not pulled"
planted=$(find "$T" -path "$T/forge" -prune -o -name planted -print)
[ -z "$planted" ] || fail "a forged tag wrote outside the backup folder: $planted"

step "forged: a valid id whose meta.json names another generation; the refused pull leaves nothing"
fake_id=2099-01-01T000000Z
mkdir -p "$T/forge/gens/$fake_id"
cp -a "$(latest_gen)/." "$T/forge/gens/$fake_id/"
restic_own backup --host "$node" --tag kdr --tag "kdr-node=$node" --tag "kdr-generation=$fake_id" --tag kdr-full \
  "$T/forge/gens/$fake_id" >/dev/null
rm -rf "$T/pulled2"
expect_rc 1 kdr offsite pull "$fake_id" --to "$T/pulled2"
assert_contains "$OUT" "generation $fake_id from $REPO says it is generation $real (meta.json): refused"
assert_contains "$OUT" "was removed"
left=$(find "$T/pulled2" -mindepth 1 -path '*generations*' -name "*$fake_id*")
[ -z "$left" ] || fail "the refused pull left $left"

step "forged under this node's name, every sum consistent, sorting last: pull latest passes over it"
fake2=2099-01-02T000000Z
mkdir -p "$T/forge/gens/$fake2"
cp -a "$(latest_gen)/." "$T/forge/gens/$fake2/"
jq --arg id "$fake2" '.id = $id' "$T/forge/gens/$fake2/meta.json" > "$T/m" && mv "$T/m" "$T/forge/gens/$fake2/meta.json"
restic_own backup --host "$node" --tag kdr --tag "kdr-node=$node" --tag "kdr-generation=$fake2" --tag kdr-full \
  "$T/forge/gens/$fake2" >/dev/null
rm -rf "$T/pulled3"
expect_rc 0 kdr offsite pull latest --to "$T/pulled3"
assert_contains "$OUT" "generation $fake2 from $REPO its meta.json, manifest.jsonl or SHA256SUMS is not what this node's key"
assert_contains "$OUT" "passed over newer generation(s) that failed their checks: $fake2, $fake_id"
[ -d "$T/pulled3/generations/$real" ] || fail "the real generation was not pulled"
[ ! -e "$T/pulled3/generations/$fake2" ] || fail "the forged generation was published"

step "the same forgery asked for by id is refused, and --unauthenticated does not let it in"
expect_rc 1 kdr offsite pull "$fake2" --to "$T/pulled3" --unauthenticated
assert_contains "$OUT" "not pulled (a node pulls only what its own key vouches for)"
[ ! -e "$T/pulled3/generations/$fake2" ] || fail "the forged generation was published"
