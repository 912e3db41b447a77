# Helpers for kdr's fault classes (tests/reliability/*.sh), on top of scenario.sh. Each
# class puts kdr through one kind of fault or hostile input a number of times, fails at
# the first thing lost or left wrong, and records one row per fault it tried:
#
#   KDR_RELIABILITY_MODE  quick (the default: a few trials, for CI) | full (hundreds)
#   KDR_TRIALS            overrides the number of trials of every class
#   KDR_RELIABILITY_OUT   a file the rows are appended to (bench/reliability.sh reads it
#                         to write docs/reliability.md); rows go to stdout in any case
source "$(dirname "${BASH_SOURCE[0]}")/scenario.sh"

KDR_RELIABILITY_MODE=${KDR_RELIABILITY_MODE:-quick}
case $KDR_RELIABILITY_MODE in quick | full) ;; *) fail "KDR_RELIABILITY_MODE must be quick or full" ;; esac

# trials QUICK FULL: the number of trials for this mode
trials() {
  if [ -n "${KDR_TRIALS:-}" ]; then echo "$KDR_TRIALS"
  elif [ "$KDR_RELIABILITY_MODE" = full ]; then echo "$2"
  else echo "$1"; fi
}

# record FAULT TRIALS WHAT_KDR_DID LOST: one row of the reliability table. Only a class that
# checked what it claims calls it; LOST is what was lost (the goal: "nothing").
record() {
  local class
  class=$(basename "$0" .sh)
  printf 'ROW\t%s\t%s\t%s\t%s\t%s\n' "$class" "$1" "$2" "$3" "$4"
  [ -z "${KDR_RELIABILITY_OUT:-}" ] || printf '%s\t%s\t%s\t%s\t%s\n' "$class" "$1" "$2" "$3" "$4" >> "$KDR_RELIABILITY_OUT"
}

# random_delay MAX_CS: a random sleep between 0 and MAX_CS hundredths of a second
random_delay() {
  local cs=$(( RANDOM % ($1 + 1) ))
  sleep "$(printf '%d.%02d' $((cs / 100)) $((cs % 100)))"
}

# run_killed_at CS CMD...: runs CMD in the background, SIGKILLs it after CS hundredths of a
# second. Sets KILLED_RC to its exit status (137 when the kill landed before it finished).
run_killed_at() {
  local cs=$1 pid
  shift
  "$@" >"$T/killed.out" 2>&1 &
  pid=$!
  SCENARIO_BG_PIDS+=("$pid")
  sleep "$(printf '%d.%02d' $((cs / 100)) $((cs % 100)))"
  kill -KILL "$pid" 2>/dev/null || true
  KILLED_RC=0
  wait "$pid" 2>/dev/null || KILLED_RC=$?
}

# elapsed_cs CMD...: runs CMD, prints its wall time in hundredths of a second (fails on error)
elapsed_cs() {
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null 2>&1 || fail "$* failed"
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 10000000 ))
}

# kdr_verify_all: `kdr verify --no-live` finds no error in any published generation
# (warnings, such as a file recorded as torn, are what the run reported already). Its report
# is stdout's JSON; what it says on stderr is shown when the check fails.
kdr_verify_all() {
  local g rc errors err
  err=$(mktemp)
  for g in "$BACKUP"/generations/*/; do
    [ -d "$g" ] || continue
    rc=0
    OUT=$(kdr verify --json --no-live "$(basename "$g")" 2>"$err") || rc=$?
    errors=$(jq -r '.counts.error' <<<"$OUT" 2>/dev/null || echo "?")
    { [ "$rc" -eq 0 ] || [ "$rc" -eq 4 ]; } && [ "$errors" = 0 ] ||
      { echo "$OUT" >&2; cat "$err" >&2; rm -f "$err"; fail "generation $(basename "$g") does not verify (exit $rc, $errors errors)"; }
  done
  rm -f "$err"
}

# snapshot_keys SNAPSHOT_FILE: the keys under /registry/ that an etcd snapshot holds, sorted,
# read by etcd itself (scenario.sh: snapshot_keyspace).
snapshot_keys() { snapshot_keyspace "$1" | jq -r '.key | @base64d' | grep '^/registry/' | sort; }
