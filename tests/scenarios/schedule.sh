#!/usr/bin/env bash
# kdr schedule: the cron.d entry and the systemd units it writes under --root (never the
# machine's own /etc), their content, `systemd-analyze verify` on the units where it is
# installed, show and remove, and a file kdr did not write is never replaced.
# kdr-test: once (cron and systemd files only: nothing here depends on etcd's version)
source "$(dirname "$0")/../lib/scenario.sh"
mkdir -p "$ROOT"

step "install --cron"
expect_rc 0 kdr schedule install --cron
cron=$ROOT/etc/cron.d/kdr
[ -f "$cron" ] || fail "no $cron"
assert_eq "$(stat -c %a "$cron")" 644 "mode of the cron file"
line=$(grep -v '^#' "$cron" | grep ' root ')
read -r m h dom mon dow user rest <<<"$line"
assert_eq "$m $h $dom $mon $dow $user" "*/5 * * * * root" "cron schedule fields"
assert_contains "$rest" "nice -n 10 ionice -c 3 $KDR_BIN -q --backup-dir $BACKUP backup --verify"
assert_contains "$(cat "$cron")" "# Written by \`kdr schedule install\`"
journal_line=$(grep -v '^#' "$cron" | grep 'journal start')
read -r m h dom mon dow user rest <<<"$journal_line"
assert_eq "$m $h $dom $mon $dow $user" "* * * * * root" "the journal's cron fields (every minute)"
assert_contains "$rest" "$KDR_BIN --backup-dir $BACKUP journal start -q"

step "cron sees kdr's exit status, not logger's"
shell=$(sed -n 's/^SHELL=//p' "$cron")
assert_eq "$shell" /bin/bash "the cron file's SHELL"
# The line as cron runs it ($SHELL -c), with a stand-in for kdr that exits 4 (verify found
# problems) and cat for logger, so that the test writes nothing to this machine's syslog.
printf '#!/bin/sh\necho "kdr: verify found problems" >&2\nexit 4\n' > "$T/kdr-exits-4"
chmod +x "$T/kdr-exits-4"
run=${rest//$KDR_BIN/$T/kdr-exits-4}
run=${run//logger -t kdr/cat >\/dev\/null}
rc=0; "$shell" -c "$run" || rc=$?
assert_eq "$rc" 4 "exit status of the cron command when kdr exits 4"

step "install --systemd --every 10"
expect_rc 0 kdr schedule install --systemd --every 10
unit=$ROOT/etc/systemd/system/kdr-backup
assert_contains "$OUT" "systemctl daemon-reload && systemctl enable --now kdr-backup.timer"
assert_contains "$(cat "$unit.timer")" "OnCalendar=*:0/10"
assert_contains "$(cat "$unit.timer")" "WantedBy=timers.target"
assert_contains "$(cat "$unit.service")" "ExecStart=$KDR_BIN -q --backup-dir $BACKUP backup --verify"
assert_contains "$(cat "$unit.service")" "IOSchedulingClass=idle"
assert_contains "$(cat "$unit.service")" "Nice=10"
journal_unit=$ROOT/etc/systemd/system/kdr-journal.service
assert_contains "$(cat "$journal_unit")" "ExecStart=$KDR_BIN --backup-dir $BACKUP journal run -q"
assert_contains "$(cat "$journal_unit")" "Restart=always"
assert_contains "$(cat "$journal_unit")" "IOSchedulingPriority=7"
assert_contains "$OUT" "systemctl daemon-reload && systemctl enable --now kdr-backup.timer kdr-journal.service"
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify "$unit.service" "$unit.timer" "$journal_unit" || fail "systemd-analyze verify rejects the units"
else
  echo "(systemd-analyze is not installed here; unit syntax not verified)"
fi

step "show lists both; remove takes away only kdr's files"
expect_rc 0 kdr schedule show
assert_contains "$OUT" "== /etc/cron.d/kdr"
assert_contains "$OUT" "== /etc/systemd/system/kdr-backup.timer"
echo "# mine" > "$ROOT/etc/cron.d/other"
expect_rc 0 kdr schedule remove
[ ! -e "$cron" ] && [ ! -e "$unit.timer" ] && [ ! -e "$unit.service" ] && [ ! -e "$journal_unit" ] || fail "schedule files left"
[ -f "$ROOT/etc/cron.d/other" ] || fail "remove took a file kdr did not write"

step "a cron file kdr did not write is not replaced"
echo "*/1 * * * * root /usr/local/bin/my-backup" > "$cron"
expect_rc 1 kdr schedule install --cron
assert_contains "$OUT" "/etc/cron.d/kdr exists and was not written by kdr"
assert_eq "$(cat "$cron")" "*/1 * * * * root /usr/local/bin/my-backup" "the operator's file"
expect_rc 2 kdr schedule install
expect_rc 2 kdr schedule install --cron --every 0

step "a backup folder named with shell code: the cron line and the unit carry it as one word, and run no code"
hostile="$T/disk 2/\$(touch $T/pwned)\`touch $T/pwned2\`;touch $T/pwned3 %d 'q' \"dq\" \$HOME"
rm -f "$ROOT/etc/cron.d/kdr"
expect_rc 0 "$KDR_BIN" --root "$ROOT" --backup-dir "$hostile" schedule install --cron
line=$(grep -v '^#' "$ROOT/etc/cron.d/kdr" | grep 'backup --verify')
read -r m h dom mon dow user rest <<<"$line"
# cron's own reading of the line: an unescaped % ends the command, \% is a literal %
[[ $rest != *[^\\]%* ]] || fail "an unescaped % in the cron line: $rest"
rest=${rest//\\%/%}
printf '#!/bin/sh\nfor a in "$@"; do printf "%%s\\n" "$a"; done\n' > "$T/kdr-args"
chmod +x "$T/kdr-args"
run=${rest//$KDR_BIN/$T/kdr-args}
run=${run//logger -t kdr/cat}
got=$("$shell" -c "$run")
[ ! -e "$T/pwned" ] && [ ! -e "$T/pwned2" ] && [ ! -e "$T/pwned3" ] || fail "the cron line ran code from the folder's name"
assert_eq "$(sed -n 3p <<<"$got")" "$hostile" "the folder as kdr receives it from cron"
expect_rc 0 "$KDR_BIN" --root "$ROOT" --backup-dir "$hostile" schedule install --systemd
exec_start=$(sed -n 's/^ExecStart=//p' "$ROOT/etc/systemd/system/kdr-backup.service")
assert_contains "$exec_start" "\"$T/disk 2/\$\$(touch $T/pwned)\`touch $T/pwned2\`;touch $T/pwned3 %%d 'q' \\\"dq\\\" \$\$HOME\""
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify "$ROOT/etc/systemd/system/kdr-backup.service" || fail "systemd-analyze verify rejects the unit"
fi
expect_rc 2 "$KDR_BIN" --root "$ROOT" --backup-dir "$T/line
break" schedule install --cron
assert_contains "$OUT" "holds a newline or another control character"
