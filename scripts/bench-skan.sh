#!/usr/bin/env bash
# attrib-skan's figures (issue 10): Apple-signature verifications per second natively and in
# wasm (under Node's WebAssembly), each beside reading alone; and the wasm size the crate adds
# to a module that already parses JSON, with the workspace's wasm-release profile.
#   bash scripts/bench-skan.sh [iterations=2000]
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ATTRIB_ROOT"
iterations=${1:-2000}

echo "== native ($(rustc --version))"
cargo bench -q -p attrib-skan --bench verify -- "$iterations"

echo "== wasm"
cargo build -q -p attrib-skan --target wasm32-unknown-unknown --profile wasm-release \
  --example wasm_bench --example wasm_size --example wasm_baseline
examples="$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/examples"
node bench/skan/wasm-verify.mjs "$examples/wasm_bench.wasm" "$iterations"

echo "== wasm size added beyond serde_json, base64 and sha2 (which the Workers already link): profile wasm-release, then wasm-opt -Oz, then gzip -9"
sizes() {
  local wasm=$1 opt
  opt=$(mktemp --suffix=.wasm)
  "$WASM_OPT_BIN" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int "$wasm" -o "$opt"
  echo "$(stat -c%s "$wasm") $(stat -c%s "$opt") $(gzip -9c "$opt" | wc -c)"
  rm -f "$opt"
}
read -r base_raw base_opt base_gz < <(sizes "$examples/wasm_baseline.wasm")
read -r skan_raw skan_opt skan_gz < <(sizes "$examples/wasm_size.wasm")
printf '%-40s %9s %9s %9s\n' module raw wasm-opt gzip
printf '%-40s %9d %9d %9d\n' 'baseline (serde_json, base64, sha2)' "$base_raw" "$base_opt" "$base_gz"
printf '%-40s %9d %9d %9d\n' 'with attrib-skan (SKAN + AAK + schema)' "$skan_raw" "$skan_opt" "$skan_gz"
printf '%-40s %9d %9d %9d\n' 'added by attrib-skan' $((skan_raw - base_raw)) $((skan_opt - base_opt)) $((skan_gz - base_gz))
