# Shared environment for every script: where cached tools live and how to find them.
# Sourced, never run. Tools are installed once per machine under ATTRIB_TOOLS_DIR (outside the
# clone), so a fresh clone on the same machine reuses them and CI's second run is fast.
export ATTRIB_ROOT="${ATTRIB_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
export ATTRIB_TOOLS_DIR="${ATTRIB_TOOLS_DIR:-$HOME/.cache/attribution-tools}"
export ATTRIB_STATE_DIR="${ATTRIB_STATE_DIR:-$ATTRIB_ROOT/.state}"
export PATH="$ATTRIB_TOOLS_DIR/cargo/bin:$ATTRIB_ROOT/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# worker-build would download these; point it at the pinned local copies instead.
export WASM_BINDGEN_BIN="$ATTRIB_TOOLS_DIR/cargo/bin/wasm-bindgen"
export WASM_OPT_BIN="$ATTRIB_ROOT/node_modules/.bin/wasm-opt"
export ESBUILD_BIN="$ATTRIB_ROOT/node_modules/.bin/esbuild"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ATTRIB_ROOT/target}"
export WRANGLER_SEND_METRICS=false
export NO_UPDATE_NOTIFIER=1

# How the cached cargo tools are built (scripts/setup/20-rust.sh, 40-tansu.sh): they are run, not
# measured, so optimised at level 1 without LTO, which compiles in far less time than a release
# build on CI's 2 cores (cargo-deny alone took ~15 min at the default level).
tool_build_profile() {
  export CARGO_TARGET_DIR="$ATTRIB_TOOLS_DIR/cargo-target" CARGO_PROFILE_RELEASE_LTO=false \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
    CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_INCREMENTAL=false
}

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }
