#!/usr/bin/env bash
# The wasm target and the cargo tools the Worker build needs, at pinned versions.
# Tools are built once into $ATTRIB_TOOLS_DIR/cargo with `tool_build_profile` (scripts/env.sh).
set -euo pipefail
source "$(dirname "$0")/../env.sh"

WORKER_BUILD_VERSION=0.8.7
# Advisories, licences and bans (scripts/supply-chain.sh).
CARGO_DENY_VERSION=0.20.2
# wasm-bindgen-cli must match the wasm-bindgen library in Cargo.lock exactly.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/"/, "", $3); print $3; exit}' "$ATTRIB_ROOT/Cargo.lock")
[ -n "$WASM_BINDGEN_VERSION" ] || die "wasm-bindgen not found in Cargo.lock"

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt

install_tool() { # crate version binary [extra cargo install args]
  local crate=$1 version=$2 bin=$3
  local have
  have=$("$ATTRIB_TOOLS_DIR/cargo/bin/$bin" --version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -1 || true)
  if [ "$have" = "$version" ]; then
    log "rust: $crate $version present"
    return
  fi
  log "rust: installing $crate $version (cached in $ATTRIB_TOOLS_DIR)"
  tool_build_profile
  # The crate's own lockfile first; some registry mirrors lack a version it pins, and then
  # cargo resolves semver-compatible versions instead.
  cargo install --locked --root "$ATTRIB_TOOLS_DIR/cargo" "$crate" --version "$version" "${@:4}" ||
    cargo install --root "$ATTRIB_TOOLS_DIR/cargo" "$crate" --version "$version" "${@:4}"
}

install_tool worker-build "$WORKER_BUILD_VERSION" worker-build
install_tool wasm-bindgen-cli "$WASM_BINDGEN_VERSION" wasm-bindgen
install_tool cargo-deny "$CARGO_DENY_VERSION" cargo-deny
