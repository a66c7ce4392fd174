#!/usr/bin/env bash
# tansu, the Kafka-protocol broker the origin's Kafka tests run against, built from crates.io
# once per machine into $ATTRIB_TOOLS_DIR/cargo/bin (`tool_build_profile` in scripts/env.sh).
# Features: dynostore (memory://) and libsql (sqlite://, so data survives a broker restart);
# the default features store nothing.
set -euo pipefail
source "$(dirname "$0")/../env.sh"

TANSU_VERSION=0.6.0
bin="$ATTRIB_TOOLS_DIR/cargo/bin/tansu"
have=$("$bin" --version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -1 || true)
if [ "$have" = "$TANSU_VERSION" ]; then
  log "tansu: $TANSU_VERSION present"
  exit 0
fi
log "tansu: installing $TANSU_VERSION (cached in $ATTRIB_TOOLS_DIR)"
tool_build_profile
cargo install --locked --root "$ATTRIB_TOOLS_DIR/cargo" tansu --version "$TANSU_VERSION" \
  --no-default-features --features dynostore,libsql
