#!/usr/bin/env bash
# Set up this machine for eks-shop: system packages, the project's virtualenv, generated code.
# Idempotent and quick when nothing changed; safe to run before every command (the Makefile does).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3.11}"
STAMP="$VENV/.eks-shop-installed"

say() { printf '[setup] %s\n' "$*"; }

# --- system packages (Debian): servers the local platform and the tests run for real -----------------------------
need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need_apt+=(postgresql)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v kubectl >/dev/null 2>&1 || say "kubectl not found: Kubernetes requirements will be reported as not observable"
command -v terraform >/dev/null 2>&1 || say "terraform not found: Terraform requirements will be reported as not observable"
if ((${#need_apt[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${need_apt[*]} with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    say "missing system packages: ${need_apt[*]} (install them with your package manager)"
  fi
fi

# --- the virtualenv --------------------------------------------------------------------------------------------
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [[ ! -x "$VENV/bin/python" ]]; then
  say "creating $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
fi
wanted="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
if [[ ! -f "$STAMP" || "$(cat "$STAMP")" != "$wanted" ]]; then
  say "installing the project and its dependencies (.[dev,load]) into .venv"
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  # compat mode: the repository root goes on sys.path, so every top-level package imports as in the repo.
  "$VENV/bin/python" -m pip install -q -e "$ROOT[dev,load]" --config-settings editable_mode=compat
  echo "$wanted" > "$STAMP"
fi

# --- generated code: protos are committed; fail loudly if they are stale -----------------------------------------
"$VENV/bin/python" -m services.protos.generate --check >/dev/null || {
  say "generated gRPC code is stale: run .venv/bin/python -m services.protos.generate"; exit 1; }
say "ready"
