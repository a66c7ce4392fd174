#!/usr/bin/env bash
# Debian packages from scripts/setup/apt-packages.txt; apt runs only when one is missing.
set -euo pipefail
source "$(dirname "$0")/../env.sh"
mapfile -t wanted < <(sed -e 's/#.*//' -e '/^\s*$/d' "$ATTRIB_ROOT/scripts/setup/apt-packages.txt")
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  log "apt: all ${#wanted[@]} packages present"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
log "apt: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
