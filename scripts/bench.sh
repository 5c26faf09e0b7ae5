#!/usr/bin/env bash
# Every services benchmark in one reproducible command:   bash scripts/bench.sh
#
# 1. the platform: reused when `shopctl status` says it is healthy, else `shopctl up` (and `down` at the end);
# 2. a gateway under test: the same code and settings as the platform's gateway (its environment is copied from
#    the running process), on a free port, with its own Redis (a copy of the platform's redis.conf) so that Redis
#    can be stopped for the "Redis down" runs without touching the platform; rate limits raised to 1e6/s so the
#    limiter still runs (its Redis round trips are part of the cost) but never answers 429 — the platform's
#    gateway (20/s per client, 500/s per tenant) is also measured briefly to show that cap;
# 3. the bench storefront (tenant `bench`, 20 products, 16 shoppers) through the public API (fixture.py);
# 4. the bare FastAPI baseline (one uvicorn worker, uvloop + httptools + orjson) serving the same page;
# 5. gRPC: catalog reads and order placement (grpc_load.py); HTTP: run_gateway_bench.sh with Redis up, then down;
# 6. docs/benchmarks.md: the section between <!-- bench:services:start --> and <!-- bench:services:end -->.
#
# Settings: DURATION (s per wrk run, 10), GRPC_REQUESTS (3000), GRPC_DURATION (20 s), GRPC_CONCURRENCY (16),
# KEEP_UP=1 leaves a platform this script started running. Processes this script starts are stopped by pid.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
py="$root/.venv/bin/python"
shopctl="$root/.venv/bin/shopctl"
bench_dir="$root/.work/bench"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
results="$bench_dir/results/$stamp"
mkdir -p "$results"
export BENCH_DIR="$bench_dir"
GRPC_REQUESTS=${GRPC_REQUESTS:-3000}
GRPC_DURATION=${GRPC_DURATION:-20}
GRPC_CONCURRENCY=${GRPC_CONCURRENCY:-16}

started_platform=0
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  if [[ $started_platform == 1 && "${KEEP_UP:-0}" != 1 ]]; then
    "$shopctl" down || true
  fi
}
trap cleanup EXIT

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
note() { echo "$(date -u +%H:%M:%S) $*"; }
free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {  # URL seconds
  for _ in $(seq $(($2 * 10))); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "no answer from $1 within $2 s" >&2
  return 1
}
echo "{\"load_start\": \"$(loadavg)\"}" >"$results/load-start.json"

# -- 1. platform --------------------------------------------------------------------------------------------------
if "$shopctl" status >/dev/null 2>&1; then
  note "platform: reusing the running one"
else
  note "platform: shopctl up"
  started_platform=1
  "$shopctl" up
fi
state="$root/.work/platform/state.json"
gw_pid=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["components"]["gateway"]["pid"])' "$state")
redis_conf="$root/.work/platform/redis/redis.conf"

# -- 2. bench Redis + gateway under test ---------------------------------------------------------------------------
redis_port=$(free_port)
mkdir -p "$bench_dir/redis"
sed -e "s/^port .*/port $redis_port/" -e "s#^dir .*#dir $bench_dir/redis#" "$redis_conf" >"$bench_dir/redis/redis.conf"
chmod 600 "$bench_dir/redis/redis.conf"
start_redis() {
  redis-server "$bench_dir/redis/redis.conf" >"$bench_dir/redis/redis.log" 2>&1 &
  redis_pid=$!
  pids+=("$redis_pid")
  for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench redis did not start; see $bench_dir/redis/redis.log" >&2
  return 1
}
start_redis

gw_port=$(free_port)
mapfile -d '' gw_env <"/proc/$gw_pid/environ"
gw_env+=(
  "SHOP_HTTP_PORT=$gw_port" "SHOP_HTTP_HOST=127.0.0.1" "SHOP_REDIS_URL=redis://127.0.0.1:$redis_port/0"
  "SHOP_RATE_CLIENT_PER_S=1000000" "SHOP_RATE_CLIENT_BURST=1000000"
  "SHOP_RATE_TENANT_PER_S=1000000" "SHOP_RATE_TENANT_BURST=1000000"
)
env -i "${gw_env[@]}" "$py" -m services.gateway >"$bench_dir/gateway.log" 2>&1 &
pids+=("$!")
export GATEWAY_PID=$!
export GATEWAY="http://127.0.0.1:$gw_port"
wait_http "$GATEWAY/readyz" 60
note "gateway under test: $GATEWAY (redis 127.0.0.1:$redis_port)"
export STOCK_GATEWAY
STOCK_GATEWAY=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["components"]["gateway"]["url"])' "$state")

# -- 3. fixture ----------------------------------------------------------------------------------------------------
"$py" -m scripts.bench.fixture --gateway "$GATEWAY" --out "$bench_dir" --shoppers 16 --shopctl "$shopctl"
user_id=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["user_ids"][0])' "$bench_dir/fixture.json")

# -- 4. baseline ---------------------------------------------------------------------------------------------------
# orjson is the baseline's serialiser (issue 7 asks for uvloop + httptools + orjson); the services do not need it.
"$py" -c 'import orjson' 2>/dev/null || "$root/.venv/bin/pip" install -q orjson
base_port=$(free_port)
BENCH_BASELINE_PAYLOAD="$bench_dir/page.json" "$root/.venv/bin/uvicorn" scripts.bench.baseline_app:app \
  --host 127.0.0.1 --port "$base_port" --workers 1 --loop uvloop --http httptools --no-access-log \
  --log-level warning >"$bench_dir/baseline.log" 2>&1 &
pids+=("$!")
export BASELINE_PID=$!
export BASELINE="http://127.0.0.1:$base_port"
wait_http "$BASELINE/v1/products" 30

# -- 5. runs -------------------------------------------------------------------------------------------------------
catalog_addr=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["components"]["catalog"]["url"])' "$state")
orders_addr=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["components"]["orders"]["url"])' "$state")
grpc_common=(--catalog "$catalog_addr" --orders "$orders_addr" --tenant bench --concurrency "$GRPC_CONCURRENCY"
  --requests "$GRPC_REQUESTS" --duration "$GRPC_DURATION")
echo "{\"load_grpc\": \"$(loadavg)\"}" >"$results/load-grpc.json"
for scenario in catalog-list catalog-get; do
  note "gRPC $scenario"
  "$py" -m scripts.bench.grpc_load "$scenario" "${grpc_common[@]}" --warmup 200 --json "$results/grpc-$scenario.json" \
    >/dev/null
done
note "gRPC place-order"
"$py" -m scripts.bench.grpc_load place-order "${grpc_common[@]}" --warmup 50 --user-id "$user_id" \
  --json "$results/grpc-place-order.json" >/dev/null

# Every process an order passes through, for the CPU-per-order breakdown of the checkout runs.
pid_of() { "$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["components"][sys.argv[2]]["pid"])' "$state" "$1"; }
export PROCESS_PIDS="gateway=$GATEWAY_PID orders=$(pid_of orders) catalog=$(pid_of catalog) mongo=$(pid_of mongo) \
postgres=$(pid_of postgres) redis=$redis_pid"
echo "{\"load_gateway\": \"$(loadavg)\"}" >"$results/load-gateway.json"
note "gateway, Redis up"
bash "$root/scripts/bench/run_gateway_bench.sh" redis-up "$results"

note "gateway, Redis stopped"
kill "$redis_pid"
wait "$redis_pid" 2>/dev/null || true
# Stopped and reaped: drop it from the cleanup list so a reused pid is never signalled.
remaining=()
for pid in "${pids[@]}"; do [[ $pid == "$redis_pid" ]] || remaining+=("$pid"); done
pids=("${remaining[@]}")
echo "{\"load_redis_down\": \"$(loadavg)\"}" >"$results/load-redis-down.json"
bash "$root/scripts/bench/run_gateway_bench.sh" redis-down "$results"
echo "{\"load_end\": \"$(loadavg)\"}" >"$results/load-end.json"

# -- 6. report -----------------------------------------------------------------------------------------------------
"$py" -m scripts.bench.report --results "$results" --doc "$root/docs/benchmarks.md"
note "results in $results; docs/benchmarks.md updated (services section)"
