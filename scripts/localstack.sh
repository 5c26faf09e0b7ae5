#!/usr/bin/env bash
# Real LocalStack (community) on this host, without Docker: a python3.13 venv with the pins that resolve together.
#
#   bash scripts/localstack.sh venv            build ~/.cache/eks-shop/localstack-venv (once; exit 3 when it cannot be built)
#   bash scripts/localstack.sh start [PORT]    start LocalStack on 127.0.0.1:PORT (default 4566), wait until healthy
#   bash scripts/localstack.sh stop [PORT]     stop the LocalStack this script started on PORT
#   bash scripts/localstack.sh status [PORT]   print its health
#
# Pins (docs: ../shared/DESIGN.md section 5): localstack-core[runtime]==2026.3.0 runs only under python3.13 and only
# when cbor2, cryptography, pyopenssl and service_identity are resolved in the SAME pip install as below.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Outside the clone: the build takes minutes, and every clone on this machine (and CI's fresh one) can reuse it.
VENV="${LOCALSTACK_VENV:-${EKS_SHOP_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/eks-shop}/localstack-venv}"
STATE="$ROOT/.work/localstack"

find_python() {
  # A working python3.13: $LOCALSTACK_PYTHON, then PATH (a pyenv shim may exist without a selected version), then
  # pyenv's own install folders and the usual system paths.
  local candidate
  for candidate in "${LOCALSTACK_PYTHON:-}" python3.13 "$(pyenv root 2>/dev/null)"/versions/3.13*/bin/python3.13 \
      "$HOME"/.pyenv/versions/3.13*/bin/python3.13 /usr/local/bin/python3.13 /usr/bin/python3.13; do
    [[ -n "$candidate" ]] || continue
    if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 13)' >/dev/null 2>&1; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

venv() {
  if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c "import localstack.runtime.main" 2>/dev/null; then
    return 0
  fi
  local PYTHON
  if ! PYTHON="$(find_python)"; then
    echo "cannot build the LocalStack venv: no working python3.13 (LocalStack 2026.3 needs Python 3.13)"
    exit 3
  fi
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV" || { echo "cannot build the LocalStack venv: $PYTHON -m venv failed"; exit 3; }
  # ONE install: resolved separately, these pins do not meet.
  if ! "$VENV/bin/pip" install -q "localstack-core[runtime]==2026.3.0" "cbor2<5.7" "cryptography<44" \
      "pyopenssl==24.2.1" "service_identity<24.3"; then
    echo "cannot build the LocalStack venv: pip install failed (no package index reachable?)"
    rm -rf "$VENV"
    exit 3
  fi
}

health() {
  curl -fsS "http://127.0.0.1:$1/_localstack/health" 2>/dev/null
}

start() {
  local port="${1:-4566}"
  venv
  mkdir -p "$STATE/$port"
  if health "$port" >/dev/null; then
    echo "LocalStack already answers on 127.0.0.1:$port"
    return 0
  fi
  GATEWAY_LISTEN="127.0.0.1:$port" OVERRIDE_IN_DOCKER=0 FILESYSTEM_ROOT="$STATE/$port" \
    S3_HOSTNAME=127.0.0.1 SKIP_SSL_CERT_DOWNLOAD=1 DISABLE_EVENTS=1 \
    setsid "$VENV/bin/python" -m localstack.runtime.main >"$STATE/$port/localstack.log" 2>&1 &
  echo $! >"$STATE/$port/pid"
  for _ in $(seq 1 150); do
    if health "$port" >/dev/null; then
      echo "LocalStack healthy on http://127.0.0.1:$port (pid $(cat "$STATE/$port/pid"), log $STATE/$port/localstack.log)"
      return 0
    fi
    if ! kill -0 "$(cat "$STATE/$port/pid")" 2>/dev/null; then
      echo "LocalStack exited at start; last lines of $STATE/$port/localstack.log:" >&2
      tail -20 "$STATE/$port/localstack.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "LocalStack did not become healthy within 30 s; see $STATE/$port/localstack.log" >&2
  exit 1
}

stop() {
  local port="${1:-4566}" pid
  if [[ ! -f "$STATE/$port/pid" ]]; then
    echo "no LocalStack recorded on port $port"
    return 0
  fi
  pid="$(cat "$STATE/$port/pid")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$STATE/$port/pid"
  echo "stopped LocalStack (pid $pid) on port $port"
}

status() {
  local port="${1:-4566}"
  health "$port" || { echo "nothing answers on 127.0.0.1:$port"; exit 1; }
  echo
}

case "${1:-}" in
  venv) venv ;;
  start) start "${2:-4566}" ;;
  stop) stop "${2:-4566}" ;;
  status) status "${2:-4566}" ;;
  *) echo "usage: $0 venv|start [PORT]|stop [PORT]|status [PORT]" >&2; exit 2 ;;
esac
