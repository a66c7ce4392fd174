#!/usr/bin/env bash
# Benchmarks the BG/NBD + Gamma-Gamma fits of `attrib ltv` against the `lifetimes` package
# (0.11.3) on the same data in the same run: the CDNOW summary lifetimes ships (2,357
# customers) and seeded synthetic customers drawn from the CDNOW parameters (default
# 1,000,000).
#
# Times are fits only, from data already in memory on both sides (our `fit_seconds`; for
# lifetimes `BetaGeoFitter.fit` / `GammaGammaFitter.fit`, which also compute the standard
# errors); ours is the best of 3 runs, theirs one run. Also prints both sides' parameters and
# log-likelihoods (evaluated by `attrib` at both parameter sets, so they compare), and one
# end-to-end `attrib ltv` wall time (process start, CSV read, both fits, predictions).
#
# Needs: `bash scripts/setup/50-python.sh` first (or ATTRIB_PYTHON). Not part of the test
# command; do not run it next to other heavy jobs.
# Usage: scripts/bench-ltv.sh [synthetic customers]   (default: 1000000)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BENCH_DIR="${BENCH_DIR:-$CARGO_TARGET_DIR/bench-ltv}"
TOOLS_DIR="${ATTRIB_TOOLS_DIR:-$HOME/.cache/attribution-tools}"
PYTHON="${ATTRIB_PYTHON:-$TOOLS_DIR/python-venv/bin/python}"
CUSTOMERS="${1:-1000000}"
SEED=2026

if [[ ! -x "$PYTHON" ]]; then
    echo "bench: $PYTHON not found; run 'bash scripts/setup/50-python.sh' first" >&2
    exit 1
fi

echo "bench: building attrib (release)" >&2
cargo build -q --release -p attrib-cli --manifest-path "$ROOT/Cargo.toml" >&2
ATTRIB="$CARGO_TARGET_DIR/release/attrib"
mkdir -p "$BENCH_DIR"

RUNNER="$BENCH_DIR/lifetimes_bench.py"
cat >"$RUNNER" <<'PY'
import json, sys, time, warnings
warnings.simplefilter("ignore")
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.datasets import load_cdnow_summary_data_with_monetary_value

if sys.argv[1] == "export-cdnow":
    load_cdnow_summary_data_with_monetary_value().to_csv(sys.argv[2], index=False, float_format="%.17g")
    sys.exit(0)
data = pd.read_csv(sys.argv[1])
start = time.perf_counter()
bg = BetaGeoFitter(penalizer_coef=0.0).fit(data["frequency"], data["recency"], data["T"])
bg_seconds = time.perf_counter() - start
repeat = data[data["frequency"] > 0]
start = time.perf_counter()
gg = GammaGammaFitter(penalizer_coef=0.0).fit(repeat["frequency"], repeat["monetary_value"])
gg_seconds = time.perf_counter() - start
json.dump({"bgnbd": {k: float(v) for k, v in bg.params_.items()}, "bgnbd_seconds": bg_seconds,
           "gamma_gamma": {k: float(v) for k, v in gg.params_.items()}, "gamma_gamma_seconds": gg_seconds},
          sys.stdout)
PY

REPORT="$BENCH_DIR/report.py"
cat >"$REPORT" <<'PY'
import json, sys
name, theirs_file, wall = sys.argv[1], sys.argv[2], float(sys.argv[3])
runs = [json.load(open(f)) for f in sys.argv[4:7]]
at_theirs = json.load(open(sys.argv[7]))
theirs = json.load(open(theirs_file))
best = lambda model: min(r[model]["fit_seconds"] for r in runs)
ours = runs[0]
print(f"== {name}: {ours['customers']:,} customers, {ours['gamma_gamma']['customers']:,} repeat buyers")
for model, keys, their_seconds in (("bgnbd", ("r", "alpha", "a", "b"), theirs["bgnbd_seconds"]),
                                   ("gamma_gamma", ("p", "q", "v"), theirs["gamma_gamma_seconds"])):
    ours_s = best(model)
    print(f"  {model:<12} fit: ours {ours_s*1e3:10.1f} ms   lifetimes {their_seconds*1e3:10.1f} ms   "
          f"({their_seconds/ours_s:,.0f}x)")
    params = lambda d: "  ".join(f"{k}={d[k]:.6g}" for k in keys)
    print(f"  {'':<12} ours      {params(ours[model])}   LL {ours[model]['log_likelihood']:.6f}")
    print(f"  {'':<12} lifetimes {params(theirs[model])}   LL {at_theirs[model]['log_likelihood']:.6f}")
print(f"  attrib ltv end to end (start, read CSV, both fits, predictions): {wall:.2f} s")
PY

bench_file() {
    local name="$1" csv="$2"
    local tag
    tag="$(basename "$csv" .csv)"
    for i in 1 2 3; do
        "$ATTRIB" ltv "$csv" --json >"$BENCH_DIR/$tag-ours-$i.json"
    done
    local start end
    start=$(date +%s.%N)
    "$ATTRIB" ltv "$csv" >/dev/null
    end=$(date +%s.%N)
    "$PYTHON" "$RUNNER" "$csv" >"$BENCH_DIR/$tag-theirs.json"
    local params
    params=$("$PYTHON" -c "import json,sys; d=json.load(open(sys.argv[1])); b,g=d['bgnbd'],d['gamma_gamma']; print(f\"{b['r']!r},{b['alpha']!r},{b['a']!r},{b['b']!r} {g['p']!r},{g['q']!r},{g['v']!r}\")" "$BENCH_DIR/$tag-theirs.json")
    "$ATTRIB" ltv "$csv" --json --bgnbd-params "${params% *}" --gamma-gamma-params "${params#* }" \
        >"$BENCH_DIR/$tag-at-theirs.json"
    "$PYTHON" "$REPORT" "$name" "$BENCH_DIR/$tag-theirs.json" "$(echo "$end - $start" | bc)" \
        "$BENCH_DIR/$tag-ours-1.json" "$BENCH_DIR/$tag-ours-2.json" "$BENCH_DIR/$tag-ours-3.json" \
        "$BENCH_DIR/$tag-at-theirs.json"
}

"$PYTHON" "$RUNNER" export-cdnow "$BENCH_DIR/cdnow.csv"
echo "bench: generating $CUSTOMERS synthetic customers (seed $SEED)" >&2
"$ATTRIB" ltv-generate --customers "$CUSTOMERS" --seed "$SEED" --output "$BENCH_DIR/synthetic-$CUSTOMERS.csv"

bench_file "CDNOW (lifetimes' summary)" "$BENCH_DIR/cdnow.csv"
bench_file "synthetic, CDNOW parameters" "$BENCH_DIR/synthetic-$CUSTOMERS.csv"
