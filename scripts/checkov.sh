#!/usr/bin/env bash
# Cross-check the Terraform with checkov, in a virtualenv of its own (~/.cache/eks-shop/checkov-venv), so that checkov's many
# pinned dependencies never meet the project's.
#
#   scripts/checkov.sh [--report-dir DIR] [--no-summary]
#
# Runs checkov on each environment folder (infra/terraform/environments/{dev,staging,prod}, which pull in every
# module through their module calls, evaluated with that environment's terraform.tfvars) and on the modules folder,
# writes one JSON per folder under <report-dir>/checkov/, then conformance.checkov maps check IDs to requirement IDs,
# applies the waivers of conformance/checkov-waivers.yaml and writes <report-dir>/checkov-report.{json,md}.
# Exit status: 0 when every failed check is waived, 1 otherwise, 2 when checkov cannot be installed or run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPORT_DIR="$ROOT/reports"
SUMMARY=1
while [ $# -gt 0 ]; do
  case "$1" in
    --report-dir) REPORT_DIR="$2"; shift 2 ;;
    --no-summary) SUMMARY=0; shift ;;
    *) echo "usage: $0 [--report-dir DIR] [--no-summary]" >&2; exit 2 ;;
  esac
done

# Outside the clone, so that every clone on this machine (and CI's fresh one) reuses the same build.
VENV="${CHECKOV_VENV:-${EKS_SHOP_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/eks-shop}/checkov-venv}"
if [ ! -x "$VENV/bin/checkov" ]; then
  echo "checkov: creating $VENV (pip install 'checkov>=3.2,<4')" >&2
  python3 -m venv "$VENV" || { echo "checkov: cannot create a virtualenv" >&2; exit 2; }
  "$VENV/bin/pip" install --quiet --disable-pip-version-check 'checkov>=3.2,<4' \
    || { echo "checkov: pip install failed (PyPI unreachable?)" >&2; rm -rf "$VENV"; exit 2; }
fi

OUT="$REPORT_DIR/checkov"
mkdir -p "$OUT"
TF="$ROOT/infra/terraform"
run_checkov() {  # name, directory, extra args...
  local name="$1" dir="$2"; shift 2
  # checkov exits 1 when a check fails; the verdict is ours (after waivers), so only a crash (no JSON) is fatal.
  "$VENV/bin/checkov" --quiet --compact --framework terraform --output json --skip-download \
    --directory "$dir" "$@" > "$OUT/$name.json" 2> "$OUT/$name.stderr" || true
  if ! python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$OUT/$name.json" 2>/dev/null; then
    echo "checkov: no JSON for $name; see $OUT/$name.stderr" >&2
    exit 2
  fi
}
for env in dev staging prod; do
  run_checkov "$env" "$TF/environments/$env" --var-file "$TF/environments/$env/terraform.tfvars"
done
run_checkov modules "$TF/modules"

ARGS=(--input-dir "$OUT" --report-dir "$REPORT_DIR")
[ "$SUMMARY" = 1 ] || ARGS+=(--quiet)
PY="$ROOT/.venv/bin/python"; [ -x "$PY" ] || PY=python3
cd "$ROOT" && exec "$PY" -m conformance.checkov "${ARGS[@]}"
