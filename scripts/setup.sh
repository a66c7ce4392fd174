#!/usr/bin/env bash
# Installs everything the project needs on a fresh machine; skips what is already there.
# Each step is a file in scripts/setup/, run in name order.
set -euo pipefail
source "$(dirname "$0")/env.sh"
for step in "$ATTRIB_ROOT"/scripts/setup/*.sh; do
  log "setup: $(basename "$step")"
  began=$(date +%s)
  bash "$step"
  log "setup: $(basename "$step") took $(( $(date +%s) - began ))s"
done
