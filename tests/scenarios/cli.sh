#!/usr/bin/env bash
# The command line: help with exit codes, version, usage errors, missing backup folder.
# kdr-test: once (the command line alone: nothing here depends on etcd's version)
source "$(dirname "$0")/../lib/scenario.sh"

expect_rc 0 "$KDR_BIN" --help
for word in backup list prune sources "--root" "--backup-dir" "--json" "Exit codes" "locked" "partial" "11"; do
  assert_contains "$OUT" "$word"
done
expect_rc 0 "$KDR_BIN" --version
assert_contains "$OUT" "kdr 0."
expect_rc 2 "$KDR_BIN" frobnicate
assert_contains "$OUT" "unknown command 'frobnicate'; the commands are: backup, verify, list"
expect_rc 2 "$KDR_BIN" --root / frobnicate now
assert_contains "$OUT" "unknown command 'frobnicate'"
expect_rc 2 "$KDR_BIN"
expect_rc 2 "$KDR_BIN" backup --no-such-flag
expect_rc 2 "$KDR_BIN" --root "$T/nowhere" sources
assert_contains "$OUT" "--root $T/nowhere: not a folder"

step "list without a backup folder: no-backup (10)"
expect_rc 10 "$KDR_BIN" --backup-dir "$T/none" list
assert_contains "$OUT" "does not exist"
expect_rc 10 "$KDR_BIN" --json --backup-dir "$T/none" list
assert_eq "$(grep '^{' <<<"$OUT" | jq .exit_code)" "10" "json error document"

step "config --defaults is a valid config"
expect_rc 0 "$KDR_BIN" config --defaults
echo "$OUT" > "$T/defaults.yaml"
expect_rc 0 "$KDR_BIN" --config "$T/defaults.yaml" config
assert_contains "$OUT" "configuration: $T/defaults.yaml (valid)"

step "sources and backup --dry-run explain every path and write nothing"
sandbox_make_node "$ROOT"
expect_rc 0 kdr backup --dry-run
assert_contains "$OUT" "/var/lib/etcd"
assert_contains "$OUT" "hostPath 'etcd-data' of etcd"
assert_contains "$OUT" "/etc/kubernetes/pki/etcd is inside /etc/kubernetes"
[ ! -e "$BACKUP" ] || fail "dry run created the backup folder"
expect_rc 0 kdr --json sources
assert_eq "$(jq -r '.sources[] | select(.path=="/etc/kubernetes") | .required' <<<"$OUT")" "true" "json sources"

step "kdr playbooks: each description's first sentence whole, wrapped under its name"
mkdir -p "$ROOT"
expect_rc 0 kdr playbooks
assert_contains "$OUT" "and the backup disk is mounted."
long=$(grep -v '^ *when: ' <<<"$OUT" | awk 'length > 101' | head -1)
[ -z "$long" ] || fail "a description line runs past 101 columns: $long"

step "kdr completion bash|zsh: commands, subcommands and options, from the command line's own definition"
expect_rc 0 kdr completion bash
echo "$OUT" > "$T/kdr.bash"
complete_words() {  # complete_words WORD...: what bash offers for the last word
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _kdr; echo "${COMPREPLY[*]}"' _ "$T/kdr.bash" "$@"
}
assert_eq "$(complete_words kdr jo)" journal "completion of a command"
assert_eq "$(complete_words kdr journal st)" "start status" "completion of a subcommand"
assert_eq "$(complete_words kdr --root /x restore rebuild-node --dr)" --dry-run "an option after a playbook name"
assert_eq "$(complete_words kdr verify --key)" --key-file "an option of verify"
expect_rc 0 kdr completion zsh
assert_contains "$OUT" "bashcompinit"
expect_rc 2 kdr completion fish
