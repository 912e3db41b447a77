#!/usr/bin/env bash
# Builds kdr's .deb (CPack) from a build folder, installs it on this machine, runs
# `kdr --help`, `man kdr` and `kdr demo` from the installed files, checks the units, the shell
# completion and the example config it ships, and removes the package again, whatever happens.
#
#   scripts/package-test.sh [BUILD_DIR]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build}
if dpkg -s kdr >/dev/null 2>&1; then
  echo "package-test: a kdr package is installed already; not touching it" >&2
  exit 1
fi
(cd "$build" && cpack >/dev/null)
deb=$(ls "$build"/kdr_*.deb)
echo "package: $deb ($(du -h "$deb" | cut -f1))"
trap 'dpkg -r kdr >/dev/null 2>&1 || true' EXIT
dpkg -i "$deb" >/dev/null
[ "$(command -v kdr)" = /usr/bin/kdr ] || { echo "package-test: /usr/bin/kdr is not what runs" >&2; exit 1; }
# output captured first: `kdr ... | grep -q` can fail under pipefail when grep exits early
help=$(/usr/bin/kdr --help)
grep -q "restore" <<<"$help" || { echo "package-test: kdr --help" >&2; exit 1; }
playbooks=$(/usr/bin/kdr playbooks)
grep -q "restore-etcd-snapshot" <<<"$playbooks" || { echo "package-test: installed playbooks: $playbooks" >&2; exit 1; }
# the installed kdr reads the installed playbooks, never the build tree's
! grep -qF "$src/playbooks" <<<"$(/usr/bin/kdr --json playbooks)" ||
  { echo "package-test: the installed kdr reads playbooks from the source tree" >&2; exit 1; }
[ -f /usr/share/bash-completion/completions/kdr ] && [ -f /usr/share/zsh/vendor-completions/_kdr ] ||
  { echo "package-test: shell completion is not installed" >&2; exit 1; }
grep -q 'complete -o default -F _kdr kdr' /usr/share/bash-completion/completions/kdr ||
  { echo "package-test: the bash completion file" >&2; exit 1; }
man -w kdr >/dev/null 2>&1 || [ -f /usr/share/man/man1/kdr.1 ] || { echo "package-test: man page" >&2; exit 1; }
grep -q '^ExecStart=/usr/bin/kdr -q backup --verify$' /usr/lib/systemd/system/kdr-backup.service ||
  { echo "package-test: the shipped service" >&2; exit 1; }
/usr/bin/kdr --config /usr/share/doc/kdr/examples/kdr.yaml config >/dev/null ||
  { echo "package-test: the example config does not load" >&2; exit 1; }
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify /usr/lib/systemd/system/kdr-backup.service /usr/lib/systemd/system/kdr-backup.timer
fi
out=$(cd / && /usr/bin/kdr demo 2>&1) || { echo "$out" | tail -30 >&2; echo "package-test: kdr demo failed" >&2; exit 1; }
grep -q "What this drill proved" <<<"$out" || { echo "package-test: kdr demo output" >&2; exit 1; }
echo "package: installed, kdr --help, playbooks, man page, units, example config and kdr demo all work; removing it"
