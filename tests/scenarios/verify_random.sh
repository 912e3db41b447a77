#!/usr/bin/env bash
# One random corruption injected into a fresh generation, many times over: every one is
# detected by kdr verify (exit 4, the damaged path named). KDR_VERIFY_TRIALS sets the
# count (CI: 40; the full fault run: hundreds).
# kdr-test: once (damage to a generation's files: nothing here depends on etcd's version)
source "$(dirname "$0")/../lib/scenario.sh"

trials=${KDR_VERIFY_TRIALS:-40}
sandbox_make_node "$ROOT"
sandbox_start_etcd "$ROOT"
sandbox_fill_etcd "$ROOT" 10 3000
expect_rc 0 kdr backup
sandbox_stop_etcd "$ROOT"
PRISTINE=$T/pristine
cp -a "$BACKUP" "$PRISTINE"
G=$(basename "$(latest_gen)")
files=$(tail -n +2 "$BACKUP/generations/$G/manifest.jsonl" | jq -r 'select(.type=="file" and .size > 0) | .path')
links=$(tail -n +2 "$BACKUP/generations/$G/manifest.jsonl" | jq -r 'select(.type=="symlink") | .path')
kinds=(flip truncate delete chmod chown retarget extra sums snapshot mtime)
declare -A detected

pick() { shuf -n 1 --random-source=<(yes "$1") <<<"$2"; }

for i in $(seq 1 "$trials"); do
  rm -rf "$BACKUP" && cp -a "$PRISTINE" "$BACKUP"
  gen=$BACKUP/generations/$G
  # every kind once first, in turn; then at random
  if [ "$i" -le "${#kinds[@]}" ]; then kind=${kinds[$((i - 1))]}; else kind=${kinds[$(( RANDOM % ${#kinds[@]} ))]}; fi
  f=$(pick "$i$RANDOM" "$files")
  p=$gen/files$f
  case $kind in
    flip)
      size=$(stat -c %s "$p"); off=$(( RANDOM * 32768 % size ))
      byte=$(od -An -tu1 -j "$off" -N1 "$p" | tr -d ' ')
      printf "\\x$(printf %02x $(( (byte + 1) % 256 )))" | dd of="$p" bs=1 seek="$off" conv=notrunc 2>/dev/null
      touch -r "$PRISTINE/generations/$G/files$f" "$p"; want=$f ;;
    truncate) truncate -s -1 "$p"; want=$f ;;
    delete) rm -f "$p"; want=$f ;;
    chmod) chmod 0777 "$p"; want=$f ;;
    chown) chown 4242:4242 "$p"; want=$f ;;
    retarget) f=$(pick "$i" "$links"); rm "$gen/files$f"; ln -s /etc/shadow "$gen/files$f"; want=$f ;;
    extra) echo "planted" > "$gen/files/etc/kubernetes/pki/planted.key"; want=/etc/kubernetes/pki/planted.key ;;
    sums) sed -i "s|^[0-9a-f]\{8\}|00000000|" "$gen/SHA256SUMS"; want=SHA256SUMS ;;
    snapshot)
      printf 'X' | dd of="$gen/etcd/snapshot.db" bs=1 seek=$(( RANDOM % 4096 + 1024 )) conv=notrunc 2>/dev/null
      want=etcd/snapshot.db ;;
    mtime) touch -d '2001-01-01' "$p"; want=$f ;;
  esac
  rc=0
  out=$("$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" --json verify --no-live 2>/dev/null) || rc=$?
  [ "$rc" -eq 4 ] || fail "trial $i ($kind of $want): exit $rc, not 4"
  if [ "$want" = SHA256SUMS ]; then
    jq -e '[.findings[] | select(.kind == "sums" or .check == "etcd")] | length > 0' <<<"$out" >/dev/null ||
      fail "trial $i: edited SHA256SUMS not reported"
  else
    jq -e --arg p "$want" '[.findings[] | select(.path == $p and .severity != "info")] | length > 0' <<<"$out" >/dev/null ||
      fail "trial $i ($kind): $want not named: $(jq -c '.findings' <<<"$out")"
  fi
  detected[$kind]=$(( ${detected[$kind]:-0} + 1 ))
done
for k in "${!detected[@]}"; do echo "  $k: ${detected[$k]} injected, ${detected[$k]} detected"; done
for k in "${kinds[@]}"; do [ "${detected[$k]:-0}" -ge 1 ] || fail "corruption kind $k was never drawn ($trials trials; at least ${#kinds[@]} needed)"; done
echo "$trials corruptions injected, $trials detected"
