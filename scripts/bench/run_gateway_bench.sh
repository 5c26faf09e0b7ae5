#!/usr/bin/env bash
# Gateway load runs with wrk (Debian's; installed when missing). Called by scripts/bench.sh, which starts the
# gateway under test, the baseline and the fixture; usable alone:
#
#   scripts/bench/run_gateway_bench.sh <phase> <out-dir>
#     phase redis-up:   baseline vs gateway cached product list (2 interleaved rounds), p99 at half the gateway's
#                       rate, checkout; plus a short run against the platform's own gateway (default rate limits)
#     phase redis-down: product list (cache bypassed) and checkout with the gateway's Redis stopped
#   checkout runs twice: through the cart (add + checkout) and with the line in the body (`items`, no Redis needed)
#
# Environment: GATEWAY (URL of the gateway under test), BASELINE (URL of baseline_app), STOCK_GATEWAY (optional),
# GATEWAY_PID / BASELINE_PID (optional: their CPU ms per request is recorded),
# BENCH_DIR (fixture: tokens.txt, fixture.json), DURATION (s per run, default 10), CONNS (default 32),
# CHECKOUT_CONNS (default 8), CHECKOUT_SAT_CONNS (default 32: the items checkout again, with enough shoppers to keep
# both cores busy), PROCESS_PIDS (optional, "name=pid ..."; each one's CPU during every run is recorded, a
# postgres pid with its backends). Every wrk run is bounded by -d and --timeout; only 127.0.0.1 is loaded.
set -euo pipefail

phase=${1:?phase: redis-up or redis-down}
out=${2:?output directory}
here=$(cd "$(dirname "$0")" && pwd)
lua="$here/gateway.lua"
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
CHECKOUT_CONNS=${CHECKOUT_CONNS:-8}
CHECKOUT_SAT_CONNS=${CHECKOUT_SAT_CONNS:-32}
GATEWAY=${GATEWAY:?GATEWAY url}
BENCH_DIR=${BENCH_DIR:?BENCH_DIR with the fixture}
mkdir -p "$out"

if ! command -v wrk >/dev/null 2>&1; then
  echo "wrk missing: installing Debian's wrk" >&2
  (apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; })
fi

for url in "$GATEWAY" "${BASELINE:-}" "${STOCK_GATEWAY:-}"; do
  case "$url" in ""|http://127.0.0.1:*) ;; *) echo "refusing to load $url: 127.0.0.1 only" >&2; exit 2 ;; esac
done

# CPU ticks (user + system) of a pid; empty when the pid is unknown.
ticks() { [[ -n "${1:-}" && -r "/proc/$1/stat" ]] && awk '{print $14 + $15}' "/proc/$1/stat" || echo ""; }
hz=$(getconf CLK_TCK)
# "name=ticks ..." for PROCESS_PIDS (a postgres pid counts its backends, which are its children).
process_ticks() {
  local entry name pid total child
  for entry in ${PROCESS_PIDS:-}; do
    name=${entry%%=*} pid=${entry#*=}
    total=$(ticks "$pid")
    [[ -n "$total" ]] || continue
    if [[ $name == postgres ]]; then
      for child in $(pgrep -P "$pid" || true); do total=$((total + $(ticks "$child" || echo 0))); done
    fi
    printf '%s=%s ' "$name" "$total"
  done
}

# run_wrk NAME PID THREADS CONNS DURATION URL [ENV=VALUE...] -> $out/NAME.json (the BENCH_JSON line plus the
# server's CPU ms per request when PID is given) and NAME.txt. CPU per request is kept because on a shared machine
# requests/s moves with the neighbours' load while the CPU cost of one request barely does.
run_wrk() {
  local name=$1 pid=$2 threads=$3 conns=$4 dur=$5 url=$6
  shift 6
  local before after procs_before procs_after
  before=$(ticks "$pid")
  procs_before=$(process_ticks)
  env BENCH_THREADS="$threads" "$@" \
    wrk -t"$threads" -c"$conns" -d"${dur}s" --timeout 5s --latency -s "$lua" "$url" >"$out/$name.txt" 2>&1 || true
  after=$(ticks "$pid")
  procs_after=$(process_ticks)
  if ! grep -m1 '^BENCH_JSON ' "$out/$name.txt" | sed 's/^BENCH_JSON //' >"$out/$name.raw"; then
    echo "wrk run $name produced no result; see $out/$name.txt" >&2
    return 1
  fi
  python3 - "$out/$name.raw" "$out/$name.json" "$before" "$after" "$hz" "$procs_before" "$procs_after" <<'PY'
import json, sys
raw, dest, before, after, hz, procs_before, procs_after = sys.argv[1:]
data = json.load(open(raw))
if before and after and data["requests"]:
    data["server_cpu_ms_per_req"] = (float(after) - float(before)) * 1000 / float(hz) / data["requests"]
start = dict(e.split("=") for e in procs_before.split())
end = dict(e.split("=") for e in procs_after.split())
# CPU ms each named process spent during the run (the report divides by the orders placed).
data["process_cpu_ms"] = {k: (float(end[k]) - float(v)) * 1000 / float(hz) for k, v in start.items() if k in end}
json.dump(data, open(dest, "w"))
PY
  rm -f "$out/$name.raw"
  echo "  $name: $(cat "$out/$name.json")"
}

rps_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rps"])' "$1"; }

list_path="/v1/products?limit=20"
products=$(python3 -c 'import json,sys; print(",".join(json.load(open(sys.argv[1]))["product_ids"]))' \
  "$BENCH_DIR/fixture.json")
nonce="$(date +%s)-$phase"

if [[ "$phase" == redis-up ]]; then
  : "${BASELINE:?BASELINE url}"
  # Fill the cache and let both servers warm up before anything is measured.
  curl -fsS -o /dev/null -H "X-Tenant: bench" "$GATEWAY$list_path"
  run_wrk warm-baseline "${BASELINE_PID:-}" 1 "$CONNS" 3 "$BASELINE$list_path"
  run_wrk warm-gateway "${GATEWAY_PID:-}" 1 "$CONNS" 3 "$GATEWAY$list_path"
  # Interleaved rounds: on a shared machine the background load drifts, and alternating spreads the drift over
  # both sides of the ratio instead of putting it all on one.
  for round in 1 2; do
    run_wrk "baseline-$round" "${BASELINE_PID:-}" 1 "$CONNS" "$DURATION" "$BASELINE$list_path"
    run_wrk "gateway-list-$round" "${GATEWAY_PID:-}" 1 "$CONNS" "$DURATION" "$GATEWAY$list_path"
  done
  half=$(python3 -c 'import sys; print(round((float(sys.argv[1]) + float(sys.argv[2])) / 4))' \
    "$(rps_of "$out/gateway-list-1.json")" "$(rps_of "$out/gateway-list-2.json")")
  run_wrk gateway-list-half "${GATEWAY_PID:-}" 2 16 "$DURATION" "$GATEWAY$list_path" BENCH_RATE="$half"
  if [[ -n "${STOCK_GATEWAY:-}" ]]; then
    curl -fsS -o /dev/null -H "X-Tenant: bench" "$STOCK_GATEWAY$list_path" || true
    run_wrk stock-gateway-list "" 1 "$CONNS" 5 "$STOCK_GATEWAY$list_path"
  fi
  run_wrk checkout "${GATEWAY_PID:-}" "$CHECKOUT_CONNS" "$CHECKOUT_CONNS" "$DURATION" "$GATEWAY" BENCH_MODE=checkout \
    BENCH_TOKENS="$BENCH_DIR/tokens.txt" BENCH_PRODUCTS="$products" BENCH_NONCE="$nonce"
  run_wrk checkout-items "${GATEWAY_PID:-}" "$CHECKOUT_CONNS" "$CHECKOUT_CONNS" "$DURATION" "$GATEWAY" \
    BENCH_MODE=checkout-items BENCH_TOKENS="$BENCH_DIR/tokens.txt" BENCH_PRODUCTS="$products" BENCH_NONCE="$nonce"
  run_wrk checkout-items-saturated "${GATEWAY_PID:-}" "$CHECKOUT_SAT_CONNS" "$CHECKOUT_SAT_CONNS" "$DURATION" \
    "$GATEWAY" BENCH_MODE=checkout-items BENCH_TOKENS="$BENCH_DIR/tokens.txt" BENCH_PRODUCTS="$products" \
    BENCH_NONCE="$nonce-sat"
elif [[ "$phase" == redis-down ]]; then
  run_wrk redis-down-list "${GATEWAY_PID:-}" 1 "$CONNS" "$DURATION" "$GATEWAY$list_path"
  run_wrk redis-down-checkout "${GATEWAY_PID:-}" "$CHECKOUT_CONNS" "$CHECKOUT_CONNS" "$DURATION" "$GATEWAY" BENCH_MODE=checkout \
    BENCH_TOKENS="$BENCH_DIR/tokens.txt" BENCH_PRODUCTS="$products" BENCH_NONCE="$nonce"
  run_wrk redis-down-checkout-items "${GATEWAY_PID:-}" "$CHECKOUT_CONNS" "$CHECKOUT_CONNS" "$DURATION" "$GATEWAY" \
    BENCH_MODE=checkout-items BENCH_TOKENS="$BENCH_DIR/tokens.txt" BENCH_PRODUCTS="$products" BENCH_NONCE="$nonce"
else
  echo "unknown phase $phase" >&2
  exit 2
fi
