#!/usr/bin/env bash
# Secrets: with any umask, kdr creates every file 0600 and every folder 0700 (traced with
# strace: every open with O_CREAT and every mkdir of kdr itself), so a private key is never
# readable by others, not even for a moment; the backup folder, its generations and kdr's
# state are unreadable to an unprivileged user; children are started from argv lists only
# (no shell anywhere); a backup folder inside a source (also through a symlink or '..') is
# refused; running without root gives a clear message.
source "$(dirname "$0")/../lib/reliability.sh"

rounds=$(trials 1 5)
NOBODY=(setpriv --reuid 65534 --regid 65534 --clear-groups)
make_running_node
chmod 755 "$T"  # so that only kdr's own modes keep the unprivileged user out

# traced CMD...: runs CMD under strace with umask $UMASK; TRACE holds the log: the calls that
# succeeded, each on one line (status filtering prints a call whole once it returns, never
# split into "unfinished" and "resumed" halves)
traced() {
  TRACE=$T/trace.$RANDOM
  # LeakSanitizer cannot run under ptrace; the other runs of the suite check for leaks
  (umask "$UMASK"; export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
   exec strace -f -qq -e status=successful -o "$TRACE" -e trace=openat,open,creat,mkdir,mkdirat,execve,clone,clone3,fork,vfork "$@")
}
# assert_private_creations: in $TRACE, every file kdr itself created was 0600 or stricter
# and every folder 0700 or stricter. Processes that exec'd another program are skipped, with
# every thread and process they made (etcdutl's threads): kdr starts them under umask 077.
assert_private_creations() {
  local others bad
  others=$(awk '
    { if (/execve\(/ && !/= -1/ && $0 !~ /execve\("[^"]*kdr"/) other[$1] = 1
                if (/^[0-9]+ +(clone3?|v?fork)\(/ && match($0, /= [0-9]+$/)) child[$1] = child[$1] " " substr($0, RSTART + 2)
                next }
    END { do { grew = 0
               for (p in other) { n = split(child[p], cs, " "); for (i = 1; i <= n; i++) if (!(cs[i] in other)) { other[cs[i]] = 1; grew = 1 } }
             } while (grew)
          for (p in other) print p }' "$TRACE" | sort -u | tr '\n' ' ')
  bad=$(grep -E 'O_CREAT|mkdir|creat\(' "$TRACE" | grep -v ' = -1 ' |
    awk -v others=" $others " '{ if (index(others, " " $1 " ")) next
      if (match($0, /, 0[0-7]+(\) +=| <unfinished)/)) { m = substr($0, RSTART + 2, RLENGTH - 2); sub(/[) <].*/, "", m)
        if (substr(m, length(m) - 1) != "00") print } else print }')
  [ -z "$bad" ] || { echo "$bad" >&2; fail "kdr created files or folders open to group or others"; }
  # what kdr itself created: an O_CREAT open or a mkdir that succeeded, once each
  CREATED=$(( CREATED + $(awk -v others=" $others " '/O_CREAT|mkdir/ { if (!index(others, " " $1 " ")) n++ } END { print n + 0 }' "$TRACE") ))
}
assert_no_shell() {
  ! grep -E 'execve\("(/usr)?/bin/(ba|da)?sh"' "$TRACE" || fail "kdr started a shell"
  # the programs started: every successful execve but kdr's own
  EXECS=$(( EXECS + $(grep -c 'execve(' "$TRACE" || true) - 1 ))
}
assert_unreadable_by_others() {
  local p
  for p in "$BACKUP" "$ROOT/var/lib/kdr"; do
    [ -e "$p" ] || continue
    [ $(( 0$(stat -c %a "$p") & 077 )) -eq 0 ] || fail "$p is mode $(stat -c %a "$p")"
    ! "${NOBODY[@]}" find "$p" -mindepth 1 2>/dev/null | grep -q . || fail "an unprivileged user can list $p"
  done
  ! "${NOBODY[@]}" cat "$(latest_gen)/files/etc/kubernetes/pki/ca.key" >/dev/null 2>&1 || fail "an unprivileged user reads the backed-up CA key"
}

CREATED=0 EXECS=0
step "nm: no system(3), popen(3) or exec of a shell in the binary"
! nm -D --undefined-only "$KDR_BIN" | grep -wE 'system|popen|execl|execlp|execle|posix_spawnp' || fail "kdr links a shell-running call"

umasks=(000 022 027 077 002)
for r in $(seq 1 "$rounds"); do
  for m in "${umasks[@]}"; do
    UMASK=$m
    step "round $r, umask $m: backup, verify, restore under strace"
    sandbox_etcdctl "$ROOT" put "/registry/umask/$m" "$r" >/dev/null
    traced "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" -q backup || fail "backup under umask $m"
    assert_private_creations; assert_no_shell
    traced "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" -q verify || fail "verify under umask $m"
    assert_private_creations; assert_no_shell
    traced "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" -q restore restore-files --yes || fail "restore under umask $m"
    assert_private_creations; assert_no_shell
    sandbox_wait_etcd "$ROOT" 30
    for k in "$ROOT"/etc/kubernetes/pki/*.key "$ROOT"/etc/kubernetes/pki/etcd/*.key; do
      [ "$(stat -c %a "$k")" = 600 ] || fail "$k is mode $(stat -c %a "$k") after the restore"
    done
    expect_rc 0 kdr restore --discard "$(restore_id)" --yes
    assert_unreadable_by_others
  done
done
record "umask 000, 002, 022, 027 and 077: backup, verify and restore-files traced with strace" "$(( rounds * 5 * 3 )) runs" \
  "all $CREATED files and folders kdr created were 0600/0700 from the start (O_CREAT and mkdir modes), private keys back at 0600; the backup folder, generations and state unreadable to uid 65534; $EXECS child processes, every one from an argv list (no shell; no system/popen in the binary)" \
  nothing

step "a backup folder inside a source is refused, however it is spelled"
mkdir -p "$T/links"
ln -sfn "$ROOT/etc/kubernetes" "$T/links/k8s"
places=("$ROOT/etc/kubernetes/backups" "$ROOT/etc/kubernetes/pki/kdr" "$ROOT/var/lib/etcd/kdr" "$ROOT/etc/kubernetes"
        "$T/links/k8s/kdr" "$ROOT/var/lib/../lib/etcd/kdr" "$ROOT/etc")
for p in "${places[@]}"; do
  before=$(node_state)
  rc=0
  OUT=$("$KDR_BIN" --root "$ROOT" --backup-dir "$p" backup 2>&1) || rc=$?
  [ "$rc" -eq 2 ] || { echo "$OUT" >&2; fail "backup folder $p: exit $rc, not 2"; }
  # the refusal names both paths: the backup folder as given (lexically normalized) and the
  # source it overlaps, which really contains it (or lies in it) once symlinks are resolved
  given=$(realpath -m -s "$p") real=$(realpath -m "$p")
  if [[ $OUT =~ backup\ folder\ ([^ ]+)\ is\ inside\ the\ source\ ([^ :]+): ]]; then
    named=${BASH_REMATCH[1]} src=${BASH_REMATCH[2]}
    [[ "$real/" == "$(realpath -m "$ROOT$src")/"* ]] || { echo "$OUT" >&2; fail "backup folder $p: named source $src does not contain it"; }
  elif [[ $OUT =~ source\ ([^ ]+)\ is\ inside\ the\ backup\ folder\ ([^ ]+) ]]; then
    src=${BASH_REMATCH[1]} named=${BASH_REMATCH[2]}
    [[ "$(realpath -m "$ROOT$src")/" == "$real/"* ]] || { echo "$OUT" >&2; fail "backup folder $p: named source $src is not inside it"; }
  else
    echo "$OUT" >&2; fail "backup folder $p: the refusal does not name both paths"
  fi
  assert_eq "$named" "$given" "backup folder named in the refusal of $p"
  diff <(echo "$before") <(node_state) >/dev/null || fail "backup folder $p: the node changed"
done
record "a backup folder inside a source (or a source inside it), also through a symlink or '..'" "${#places[@]}" \
  "refused with exit 2 naming both paths; nothing written on the node" nothing

step "without root"
chmod 755 "$T/disk2"
rc=0; OUT=$("${NOBODY[@]}" "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" backup 2>&1) || rc=$?
[ "$rc" -eq 1 ] && grep -q "Permission denied (kdr runs as uid 65534, not root: run it with sudo)" <<<"$OUT" || { echo "$OUT" >&2; fail "backup as nobody: exit $rc"; }
rc=0; OUT=$("${NOBODY[@]}" "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" verify 2>&1) || rc=$?
[ "$rc" -eq 1 ] && grep -q "not root: run it with sudo" <<<"$OUT" || { echo "$OUT" >&2; fail "verify as nobody: exit $rc"; }
rc=0; OUT=$("${NOBODY[@]}" "$KDR_BIN" --backup-dir "$BACKUP" backup 2>&1) || rc=$?
[ "$rc" -eq 1 ] && grep -q "it needs root. Run it with sudo" <<<"$OUT" || { echo "$OUT" >&2; fail "backup of the real node as nobody: exit $rc"; }
rc=0; OUT=$("${NOBODY[@]}" "$KDR_BIN" --backup-dir "$BACKUP" restore restore-files --yes 2>&1) || rc=$?
[ "$rc" -eq 1 ] && grep -q "needs root: run it with sudo" <<<"$OUT" || { echo "$OUT" >&2; fail "restore of the real node as nobody: exit $rc"; }
record "kdr run as an unprivileged user (backup, verify, restore; sandbox and real node)" 4 \
  "exit 1 with 'needs root: run it with sudo' before touching anything, or the permission error with that hint" nothing

# probe_private_etcd STOPFILE: as uid 65534, until STOPFILE goes away, looks for kdr's private
# etcd (its process is visible to all) and tries every way in an unprivileged user has: every
# plain-HTTP port listening on loopback, and every unix socket it names (ss shows their
# paths). Prints "seen PID" for each look that found it, and "reached ..." with what it read.
probe_private_etcd() {
  "${NOBODY[@]}" bash -c '
    range='"'"'{"key":"L3JlZ2lzdHJ5L3NlY3JldHMv","range_end":"L3JlZ2lzdHJ5L3NlY3JldHMw"}'"'"'
    while [ -e "$1" ]; do
      for pid in $(pgrep -f -- "--name kdr-private --data-dir"); do
        echo "seen $pid"
        for port in $(ss -Hltn | awk "{print \$4}" | sed -n "s/^127\.0\.0\.1://p"); do
          got=$(curl -s -m 1 -X POST "http://127.0.0.1:$port/v3/kv/range" -d "$range" 2>/dev/null) &&
            grep -q "\"kvs\"" <<<"$got" && echo "reached 127.0.0.1:$port $got"
        done
        for sock in $(ss -Hlx | awk "{print \$5}" | grep -v "^@" | grep -v "^\*$"); do
          got=$(curl -s -m 1 --unix-socket "$sock" -X POST "http://localhost/v3/kv/range" -d "$range" 2>/dev/null) &&
            grep -q "\"kvs\"" <<<"$got" && echo "reached $sock $got"
        done
      done
      sleep 0.02
    done' _ "$1"
}

step "the private etcd of a restore: an unprivileged user finds nothing to reach"
for i in 1 2 3; do
  sandbox_etcdctl "$ROOT" put "/registry/secrets/vault/token-$i" "top-secret-$i" >/dev/null
done
sandbox_etcdctl "$ROOT" put /registry/namespaces/vault '{"kind":"Namespace"}' >/dev/null
kdr -q backup
sandbox_etcdctl "$ROOT" del --prefix /registry/secrets/vault/ >/dev/null
touch "$T/probe.on"
probe_private_etcd "$T/probe.on" > "$T/probe.out" 2>&1 &
probe=$!
SCENARIO_BG_PIDS+=("$probe")
opened=0
for r in $(seq 1 "$rounds"); do
  expect_rc 0 kdr restore restore-etcd-keys --set namespace=vault --dry-run
  opened=$((opened + 1))
done
expect_rc 0 kdr restore restore-etcd-keys --set namespace=vault --yes
opened=$((opened + 2))
rm -f "$T/probe.on"
wait "$probe" || true
seen=$(grep -c '^seen ' "$T/probe.out" || true)
[ "$seen" -gt 0 ] || { cat "$T/probe.out" >&2; fail "the probe never saw the private etcd run: the test proves nothing"; }
! grep '^reached' "$T/probe.out" >&2 || fail "an unprivileged user read Secrets from the private etcd"
assert_eq "$(sandbox_etcdctl "$ROOT" get --prefix /registry/secrets/vault/ --keys-only | grep -c token)" 3 "Secrets put back"
record "the private etcd of restore-etcd-keys, probed by uid 65534 while it ran" "$opened private etcds, seen $seen times" \
  "no port on loopback and no unix socket it could use: its sockets are inside root's 0700 scratch folder; every loopback port and every listed socket tried with a range over /registry/secrets/" \
  nothing

step "off site: an unprivileged user reading every process's argv while kdr offsite runs finds no secret"
source "$KDR_SOURCE_DIR/tests/lib/offsite.sh"
secret="kdr-test-secret-$RANDOM$RANDOM"
mkdir -p "$ROOT/etc/kdr"
printf 'AWS_ACCESS_KEY_ID=kdr-test-id\nAWS_SECRET_ACCESS_KEY=%s\n' "$secret" > "$ROOT/etc/kdr/s3.env"
chmod 600 "$ROOT/etc/kdr/s3.env"
OFFSITE_SETTINGS=$'  env_files: [/etc/kdr/s3.env]\n'
offsite_config "$T/offsite-repo"
password=$(cat "$ROOT/etc/kdr/restic-password")
# Every argv of every process, as uid 65534 reads them in /proc, until the stop file goes.
touch "$T/poll.on"
"${NOBODY[@]}" bash -c 'while [ -e "$1" ]; do cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\0" "\n"; done | sort -u' _ "$T/poll.on" > "$T/argv.seen" &
poller=$!
SCENARIO_BG_PIDS+=("$poller")
# ... and every execve kdr makes, argv in full (strace): deterministic where the poller can
# miss a short-lived process.
offsite_traced() {
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    strace -f -qq -s 65536 -e trace=execve -e status=successful -o "$T/offsite.trace.$RANDOM" "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" "$@"
}
expect_rc 0 offsite_traced offsite init
for r in $(seq 1 "$rounds"); do
  expect_rc 0 offsite_traced offsite push
  expect_rc 0 offsite_traced offsite list
done
expect_rc 0 offsite_traced offsite check
rm -f "$T/poll.on"
wait "$poller" || true
grep -qx -e restic -e '.*/restic' "$T/argv.seen" || fail "the poller never saw restic run: the test proves nothing"
# the programs kdr started: every successful execve but each run's own kdr
execs=$(( $(cat "$T"/offsite.trace.* | grep -c 'execve(' || true) - $(ls "$T"/offsite.trace.* | wc -l) ))
cat "$T"/offsite.trace.* | grep 'execve(' | grep -q 'restic' || fail "strace saw no restic started: the test proves nothing"
for f in "$T/argv.seen" "$T"/offsite.trace.*; do
  ! grep -F -e "$secret" -e "$password" -e "RESTIC_REPOSITORY=" -e "RESTIC_PASSWORD_FILE=" -e "AWS_SECRET_ACCESS_KEY=" "$f" >&2 ||
    fail "a secret or restic's environment is in an argv ($f)"
done
record "kdr offsite init, push, list, check with offsite.env_files, every process's argv read by uid 65534 throughout" \
  "$(( 2 * rounds + 2 )) runs, $execs execve traced" \
  "no secret key, password or repository variable in any argv: restic gets its environment from execve, not from env(1)'s arguments" \
  nothing
