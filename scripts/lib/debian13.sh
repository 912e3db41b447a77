# Sourced by the fetch scripts: downloads packages of Debian 13 (trixie) without installing
# anything. A private sources list and package lists (the machine's own archive, signed by
# Debian's trixie key from debian-archive-keyring), `apt-get download`, `dpkg -x`.
#
#   debian13_unpack WORK ROOT PACKAGE...     the .debs' files under ROOT (WORK: scratch)
#
# With DEBIAN13_LISTS=DIR the package lists are kept in DIR and fetched again only when older
# than an hour, so that the fetch scripts run one after the other download them once.

debian13_unpack() {
  local work=$1 root=$2
  shift 2
  local suite=trixie
  local keyring=/usr/share/keyrings/debian-archive-$suite-stable.gpg
  [ -f "$keyring" ] || { echo "debian13: $keyring missing (package debian-archive-keyring)" >&2; return 1; }
  # The URI of the machine's own Debian archive (deb.debian.org or a mirror).
  local mirror
  mirror=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
    grep -v security | grep -oE 'https?://[^ ]+' | head -n 1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  local lists=${DEBIAN13_LISTS:-$work/lists}
  mkdir -p "$lists/partial" "$work/cache/archives/partial" "$work/debs" "$root"
  chmod 700 "$lists"
  echo "deb [signed-by=$keyring] $mirror $suite main" > "$work/sources.list"
  local apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$lists" -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root -qq)
  echo "debian13: $* from Debian $suite ($mirror)"
  if [ -z "$(find "$lists/.fetched" -mmin -60 2>/dev/null)" ]; then
    apt-get "${apt_opts[@]}" update
    touch "$lists/.fetched"
  fi
  (cd "$work/debs" && apt-get "${apt_opts[@]}" download "$@")
  local deb
  for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$root"; done
}
