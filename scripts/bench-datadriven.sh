#!/usr/bin/env bash
# Benchmarks the data-driven attribution models of `attrib` against the
# ChannelAttribution Python package (default settings) on the same seeded
# synthetic data: ~10k, 100k and 500k distinct paths over 12 channels.
#
# For each size it prints wall time of Markov order 1 and 3 and of the
# heuristics on both sides, the speed-up, and the agreement (largest
# per-channel gap as % of total conversions). Timings cover parsing the path
# strings plus the model, starting from rows already in memory on both sides
# (a DataFrame for ChannelAttribution); ours is the best of 3 runs, theirs one
# run (it takes seconds). It also times one end-to-end `attrib run` (process
# start, CSV read, Markov order 1) on the largest file.
#
# Needs: `bash scripts/setup/50-python.sh` first (or ATTRIB_PYTHON). Runs the
# benchmarks one after another; do not run it next to other heavy jobs.
# Usage: scripts/bench-datadriven.sh [sizes...]   (default: 10000 100000 500000)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BENCH_DIR="${BENCH_DIR:-$CARGO_TARGET_DIR/bench-datadriven}"
TOOLS_DIR="${ATTRIB_TOOLS_DIR:-$HOME/.cache/attribution-tools}"
PYTHON="${ATTRIB_PYTHON:-$TOOLS_DIR/python-venv/bin/python}"
CHANNELS=12
SEED=2024
SIZES=("$@")
[[ ${#SIZES[@]} -gt 0 ]] || SIZES=(10000 100000 500000)

if [[ ! -x "$PYTHON" ]]; then
    echo "bench: $PYTHON not found; run 'bash scripts/setup/50-python.sh' first" >&2
    exit 1
fi

echo "bench: building attrib (release)" >&2
cargo build --release -p attrib-cli --manifest-path "$ROOT/Cargo.toml" >&2
ATTRIB="$CARGO_TARGET_DIR/release/attrib"
mkdir -p "$BENCH_DIR"

RUNNER="$BENCH_DIR/channel_attribution_bench.py"
cat >"$RUNNER" <<'PY'
import contextlib, io, json, os, sys, time
os.environ.setdefault("MPLBACKEND", "Agg")
with contextlib.redirect_stdout(io.StringIO()):
    import ChannelAttribution as ca
import pandas as pd

data = pd.read_csv(sys.argv[1])
out = {}
for order in (1, 3):
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        result = ca.markov_model(data, "path", "total_conversions",
                                 var_value="total_conversion_value", var_null="total_null",
                                 order=order, verbose=False, flg_pro=False)
    out[f"markov_order_{order}"] = {
        "seconds": time.perf_counter() - start,
        "conversions": dict(zip(result["channel_name"], map(float, result["total_conversions"]))),
    }
start = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    h = ca.heuristic_models(data, "path", "total_conversions",
                            var_value="total_conversion_value", flg_pro=False)
out["heuristics"] = {
    "seconds": time.perf_counter() - start,
    "conversions": dict(zip(h["channel_name"], map(float, h["linear_touch_conversions"]))),
}
json.dump(out, sys.stdout)
PY

REPORT="$BENCH_DIR/report.py"
cat >"$REPORT" <<'PY'
import json, sys

size, ours_file, theirs_file = sys.argv[1], sys.argv[2], sys.argv[3]
ours = json.load(open(ours_file))
theirs = json.load(open(theirs_file))
credits = {m["model"]: m for m in ours["models"]}
timings = {t["model"]: t for t in ours["timings"]}
rows = [("markov_order_1", "markov_order_1"), ("markov_order_3", "markov_order_3"),
        ("heuristics", "linear")]
for name, credit_model in rows:
    ours_s = timings[name]["best_seconds"]
    theirs_s = theirs[name]["seconds"]
    model = credits[credit_model]
    total = model["total_conversions"]
    gap = max(abs(c["conversions"] - theirs[name]["conversions"].get(c["channel"], 0.0))
              for c in model["channels"]) / total * 100
    print(f"{size:>8} {timings[name]['rows']:>8} {name:<16} {ours_s:>9.4f} {theirs_s:>9.3f} "
          f"{theirs_s / ours_s:>8.1f}x {gap:>10.4f}%")
PY

printf '%8s %8s %-16s %9s %9s %9s %11s\n' size rows model "ours s" "CA s" speedup "max gap"
for size in "${SIZES[@]}"; do
    csv="$BENCH_DIR/paths-$size-$CHANNELS.csv"
    [[ -s "$csv" ]] || "$ATTRIB" generate --paths "$size" --channels "$CHANNELS" --seed "$SEED" --output "$csv"
    "$ATTRIB" bench "$csv" --order 1,3 --repeat 3 --no-progress >"$BENCH_DIR/ours-$size.json"
    "$PYTHON" "$RUNNER" "$csv" >"$BENCH_DIR/theirs-$size.json"
    "$PYTHON" "$REPORT" "$size" "$BENCH_DIR/ours-$size.json" "$BENCH_DIR/theirs-$size.json"
done

largest="$BENCH_DIR/paths-${SIZES[-1]}-$CHANNELS.csv"
start=$EPOCHREALTIME
"$ATTRIB" run "$largest" --models markov --order 1 --json --no-progress >/dev/null
end=$EPOCHREALTIME
elapsed=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
echo "end-to-end 'attrib run --models markov --order 1' on ${SIZES[-1]} paths (process + CSV read + model): $elapsed s"
echo "ChannelAttribution: markov_model/heuristic_models with default settings (nsim_start 1e5, conv_par 0.05, max_step = longest path)."
