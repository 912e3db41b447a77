#!/usr/bin/env bash
# Off-site copies through restic, on a sandbox node with a real TLS etcd holding a database of
# at least 300 MB, into local restic repositories (the same disk: the store's network is left
# out, so what is timed is what kdr adds to restic):
#  - push of a first generation, then of a generation after 5 minutes of writes (300 puts of
#    1 KiB at the default cadence of 1 write/s), kdr offsite push beside plain `restic backup`
#    of the same folder into a repository of its own (the same history), time and peak RSS
#    (the first push asks the repository what it holds; the next trusts what the first left);
#  - pull: kdr offsite pull latest into a fresh folder (restic restore, then the generation's
#    own SHA256SUMS and manifest checked) beside `restic restore` plus `sha256sum -c`;
#  - off-site bytes per day at the default cadence (a push every 5 minutes, 288 a day): with
#    a full snapshot in every generation, and with the change journal (a full snapshot every
#    60 minutes, the journal's position and the grown journal in the other 11 pushes an hour).
# After each backup an unmeasured restic run reads the new generation once (the first run after
# a backup is slower, whoever runs it); then kdr and restic alone take turns at running first.
# Prints the medians as Markdown tables.
#
#   bench/offsite.sh [--quick] [--size-mb N] [--kdr PATH]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_args 300 30 3 "$@"
bench_node_with_db
db_size=$(( $(stat -c %s "$ROOT/var/lib/etcd/member/snap/db") >> 20 ))
echo "pw for the benchmark" > "$ROOT/etc/kdr/restic-password"
chmod 600 "$ROOT/etc/kdr/restic-password"
config() {
  printf 'kubeconfig: ""\nretention: {keep_last: 100, hourly: 0, daily: 0, weekly: 0}\noffsite:\n  repository: %s\njournal: {checkpoint_s: 1}\n' "$1" \
    > "$ROOT/etc/kdr/kdr.yaml"
}
K=("$kdr_bin" --root "$ROOT" --backup-dir "$B")
P=(env "RESTIC_PASSWORD_FILE=$ROOT/etc/kdr/restic-password" restic -r "$W/plain")
k() { "${K[@]}" "$@"; }
plain() { "${P[@]}" "$@"; }
# five minutes of writes at 1/s, at once
five_minutes() { sandbox_fill_etcd "$ROOT" 300 1024 "/registry/configmaps/bench/five-$RANDOM-"; }
added() { sed -n 's/.*, \([0-9.]*\) MiB new off site.*/\1/p' "$1" | awk '{ s += $1 } END { printf "%.1f", s }'; }
med() { printf '%s\n' "$@" | bench_median; }
# settle: the newest generation read once by restic into a scratch repository (not measured)
settle() {
  rm -rf "$W/scratch"
  env "RESTIC_PASSWORD_FILE=$ROOT/etc/kdr/restic-password" restic -r "$W/scratch" init >/dev/null 2>&1
  bench_measure env "RESTIC_PASSWORD_FILE=$ROOT/etc/kdr/restic-password" restic -r "$W/scratch" backup "$(readlink -f "$B/latest")" >/dev/null
  rm -rf "$W/scratch"
}

first_kdr=() first_plain=() incr_kdr=() incr_plain=() pull_kdr=() pull_plain=()
first_added='' incr_added='' point_added='' gen_mb=''
for rep in $(seq 1 "$reps"); do
  rm -rf "$B" "$W/repo" "$W/plain" "$W/pulled" "$W/plain-restore" "$ROOT/var/lib/kdr/offsite.json"
  config "$W/repo"
  k -q backup
  gen=$(readlink -f "$B/latest")
  gen_mb=$(du -sm --apparent-size "$gen" | cut -f1)
  k offsite init >/dev/null
  plain init >/dev/null 2>&1
  # the first run after a backup is slower, whoever runs it: an unmeasured restic run goes
  # first, then the two take turns
  settle
  [ $((rep % 2)) -eq 1 ] || first_plain+=("$(bench_measure "${P[@]}" backup --json --host node --tag kdr "$gen")")
  first_kdr+=("$(bench_measure "${K[@]}" offsite push)")
  first_added=$(jq '.last_bytes_added' "$ROOT/var/lib/kdr/offsite.json")
  [ $((rep % 2)) -eq 0 ] || first_plain+=("$(bench_measure "${P[@]}" backup --json --host node --tag kdr "$gen")")
  five_minutes
  k -q backup
  gen=$(readlink -f "$B/latest")
  settle
  [ $((rep % 2)) -eq 1 ] || incr_plain+=("$(bench_measure "${P[@]}" backup --json --host node --tag kdr "$gen")")
  bench_drop_caches
  /usr/bin/time -o "$W/time.out" -f '%e %M' "${K[@]}" offsite push >"$W/push.out" 2>&1
  incr_kdr+=("$(tail -1 "$W/time.out")")
  incr_added=$(added "$W/push.out")
  [ $((rep % 2)) -eq 0 ] || incr_plain+=("$(bench_measure "${P[@]}" backup --json --host node --tag kdr "$gen")")
  pull_plain_once() {
    pull_plain+=("$(bench_measure bash -c '"${@:3}" restore latest --target "$1" && cd "$1$2" && sha256sum -c --quiet SHA256SUMS' \
      restore "$W/plain-restore" "$gen" "${P[@]}")")
  }
  [ $((rep % 2)) -eq 1 ] || pull_plain_once
  pull_kdr+=("$(bench_measure "${K[@]}" offsite pull latest --to "$W/pulled")")
  [ $((rep % 2)) -eq 0 ] || pull_plain_once
done

# With the journal: a full generation, the follower, five minutes of writes, the backup that
# records the journal's position, and its push (that generation and the grown journal).
rm -rf "$B" "$W/repo" "$ROOT/var/lib/kdr/offsite.json"
config "$W/repo"
k -q backup
k offsite init >/dev/null
k offsite push >/dev/null
"$kdr_bin" --root "$ROOT" --backup-dir "$B" journal run >"$W/follower.log" 2>&1 &
follower=$!
rev() { sandbox_etcdctl "$ROOT" endpoint status -w json | jq '.[0].Status.header.revision'; }
caught_up() { local want; want=$(rev); until [ "$({ k journal status --json || true; } | jq '.state.position // 0')" -ge "$want" ]; do sleep 0.1; done; }
caught_up
five_minutes
caught_up
k -q backup
jq -e '.etcd.snapshot == null' "$B/latest/meta.json" >/dev/null || { echo "bench: the journal run took a full snapshot" >&2; exit 1; }
k offsite push >"$W/point.out" 2>&1
point_added=$(added "$W/point.out")
journal_added=$(sed -n 's/^pushed the change journal.*, \([0-9.]*\) MiB new off site.*/\1/p' "$W/point.out")
point_added=$(awk -v a="$point_added" -v b="${journal_added:-0}" 'BEGIN { printf "%.2f", a + b }')
kill "$follower"; wait "$follower" 2>/dev/null || true

overhead() { awk -v a="$(cut -d' ' -f1 <<<"$1")" -v b="$(cut -d' ' -f1 <<<"$2")" 'BEGIN { printf "%+.0f%%", (a - b) / b * 100 }'; }
row() {  # row WHAT KDR PLAIN
  echo "| $1 | $(cut -d' ' -f1 <<<"$2") s | $(bench_mb "$(cut -d' ' -f2 <<<"$2")") MiB | $(cut -d' ' -f1 <<<"$3") s | $(bench_mb "$(cut -d' ' -f2 <<<"$3")") MiB | $(overhead "$2" "$3") |"
}
echo
echo "Off-site push and pull of a generation of $gen_mb MB (etcd database $db_size MB) into a local restic repository, $reps run(s), medians:"
echo
echo "| | kdr | kdr peak RSS | restic alone | restic peak RSS | kdr adds |"
echo "|---|---:|---:|---:|---:|---:|"
row "first push (kdr offsite push / restic backup)" "$(med "${first_kdr[@]}")" "$(med "${first_plain[@]}")"
row "push after 5 minutes of writes" "$(med "${incr_kdr[@]}")" "$(med "${incr_plain[@]}")"
row "pull into a fresh folder (kdr offsite pull / restic restore + sha256sum -c)" "$(med "${pull_kdr[@]}")" "$(med "${pull_plain[@]}")"
echo
first_mib=$(awk -v b="$first_added" 'BEGIN { printf "%.1f", b / 1048576 }')
echo "Off-site bytes at the default cadence (a push every 5 minutes, 288 a day; 1 write/s of 1 KiB):"
echo
echo "| | stored anew per push | per day |"
echo "|---|---:|---:|"
echo "| first push | $first_mib MiB | |"
echo "| a full snapshot in every generation | $incr_added MiB | $(awk -v a="$incr_added" 'BEGIN { printf "%.0f MiB", a * 288 }') |"
echo "| with the change journal (a full snapshot hourly, else the journal's position and the grown journal) | $point_added MiB | $(awk -v a="$incr_added" -v p="$point_added" 'BEGIN { printf "%.0f MiB", a * 24 + p * 264 }') |"
