#!/usr/bin/env bash
# Installs Debian packages the test suites drive (scripts/ci/system-packages.sh prometheus wrk ...),
# skipping the apt round trip when every one is already installed. Debian 12, as root or with sudo.
set -euo pipefail
if [[ $# -eq 0 ]]; then
  echo "usage: $0 PACKAGE..." >&2
  exit 2
fi
missing=()
for package in "$@"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "already installed: $*"
  exit 0
fi
sudo=()
[[ "$(id -u)" -ne 0 ]] && sudo=(sudo)
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "installed: ${missing[*]}"
