#!/usr/bin/env bash
# Retention over days of generations with fake times (KDR_NOW), after each backup and by
# 'kdr prune'; --dry-run removes nothing; the newest complete generation always stays.
# kdr-test: release build (files only: nothing here depends on etcd's version; the unit tests of
# retention run under the sanitizers)
source "$(dirname "$0")/../lib/scenario.sh"

sandbox_make_node "$ROOT"
echo "data" > "$ROOT/var/lib/etcd/db-stand-in"
mkdir -p "$ROOT/etc/kdr"
cat > "$ROOT/etc/kdr/kdr.yaml" <<'YAML'
etcd: {snapshot: false}
retention:
  keep_last: 3
  hourly: 4
  daily: 2
  weekly: 0
YAML

step "a backup every 30 minutes for 2 days (fake clock)"
start=1795392000  # Monday 2026-11-23 00:00 UTC
for n in $(seq 0 95); do
  KDR_NOW=$(( start + n * 1800 )) expect_rc 0 kdr -q backup
done
now=$(( start + 95 * 1800 ))   # Tuesday 23:30
ids=$(ls "$BACKUP/generations")
# last 3: 23:30 22:30 23:00; hourly 4 (> 19:30): 23:30 22:30 21:30 20:30 (newest per hour);
# daily 2 (> Sunday 23:30): Tuesday 23:30, Monday 23:30.
want="2026-11-23T233000Z
2026-11-24T203000Z
2026-11-24T213000Z
2026-11-24T223000Z
2026-11-24T230000Z
2026-11-24T233000Z"
assert_eq "$ids" "$want" "generations kept"
assert_all_generations_verify

step "prune --dry-run with tighter rules shows, removes nothing"
cat > "$ROOT/etc/kdr/kdr.yaml" <<'YAML'
etcd: {snapshot: false}
retention: {keep_last: 1, hourly: 0, daily: 0, weekly: 0}
YAML
KDR_NOW=$now expect_rc 0 kdr prune --dry-run
assert_contains "$OUT" "would remove 2026-11-23T233000Z"
assert_contains "$OUT" "keep    2026-11-24T233000Z  (newest complete, last 1)"
assert_eq "$(ls "$BACKUP/generations" | wc -l)" "6" "dry run removed something"

step "prune removes, keeping the newest complete generation"
KDR_NOW=$now expect_rc 0 kdr --json prune
assert_eq "$(jq -c '.removed | length' <<<"$OUT")" "5" "removed"
assert_eq "$(ls "$BACKUP/generations")" "2026-11-24T233000Z" "left"
assert_eq "$(basename "$(latest_gen)")" "2026-11-24T233000Z" "latest"
