#!/usr/bin/env bash
# Time the static conformance run of dev, staging and prod, cold (no plan cache) and warm, beside checkov on the
# same environment folders, in one run on this machine; write the table into docs/benchmarks.md (section
# "Static conformance run versus checkov", between the bench:static markers).
#
#   scripts/bench-static.sh            # measure and update docs/benchmarks.md
#   scripts/bench-static.sh --no-docs  # measure and print only
#
# Cold: `rm -rf .work/terraform/plans`, so each environment is planned again against the embedded emulator (the
# initialised Terraform working copies under .work/terraform/trees stay, as on a developer machine). Warm: the same
# commands again, plans taken from the cache. checkov runs from ~/.cache/eks-shop/checkov-venv (built by scripts/checkov.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DOCS=1
[ "${1:-}" = "--no-docs" ] && DOCS=0
ENVS=(dev staging prod)
OUT="$ROOT/.work/bench/static-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
CHECKOV="${CHECKOV_VENV:-${EKS_SHOP_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/eks-shop}/checkov-venv}/bin/checkov"
if [ ! -x "$CHECKOV" ]; then
  scripts/checkov.sh --report-dir "$OUT/checkov-build" --no-summary >/dev/null 2>&1 || true
fi
[ -x "$CHECKOV" ] || { echo "bench-static: checkov is not installed (scripts/checkov.sh needs PyPI)" >&2; exit 2; }

seconds() {  # label, command...: run, keep the output, append "label seconds exit" to the results
  local label="$1"; shift
  local start end rc=0
  start=$(date +%s.%N)
  "$@" > "$OUT/$label.log" 2>&1 || rc=$?
  end=$(date +%s.%N)
  echo "$label $(python3 -c "print(f'{$end - $start:.1f}')") $rc" >> "$OUT/results.txt"
}

suite() { .venv/bin/pytest steps -p no:cacheprovider -q --env "$1" --report-dir "$OUT/reports"; }

echo "load-start $(cut -d' ' -f1-3 /proc/loadavg)" > "$OUT/load.txt"
rm -rf .work/terraform/plans
for env in "${ENVS[@]}"; do seconds "cold-$env" suite "$env"; done
for env in "${ENVS[@]}"; do seconds "warm-$env" suite "$env"; done
for env in "${ENVS[@]}"; do
  seconds "checkov-$env" "$CHECKOV" --quiet --compact --framework terraform --output json --skip-download \
    --directory "infra/terraform/environments/$env" --var-file "infra/terraform/environments/$env/terraform.tfvars"
done
echo "load-end $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/load.txt"

python3 - "$OUT" "$DOCS" "$("$CHECKOV" --version 2>/dev/null | tail -1)" <<'PY'
import datetime, os, pathlib, platform, subprocess, sys

out, docs, checkov_version = pathlib.Path(sys.argv[1]), sys.argv[2] == "1", sys.argv[3]
rows = {}
for line in (out / "results.txt").read_text().split("\n"):
    if line.strip():
        label, secs, rc = line.split()
        rows[label] = (float(secs), int(rc))
envs = ["dev", "staging", "prod"]
total = {kind: sum(rows[f"{kind}-{e}"][0] for e in envs) for kind in ("cold", "warm", "checkov")}
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
load = " / ".join(l.split(" ", 1)[1] for l in (out / "load.txt").read_text().splitlines())
now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
lines = [
    "<!-- bench:static:start -->",
    "## Static conformance run versus checkov (issue 3)",
    "",
    f"Command: `scripts/bench-static.sh` (logs: `{out.relative_to(pathlib.Path.cwd())}`). Date: {now}. Commit {commit}.",
    f"Machine: {os.cpu_count()} cores, {platform.machine()}, Linux {platform.release()}; shared with other sessions "
    f"(load average 1/5/15 min at start / end: {load}). {checkov_version and 'checkov ' + checkov_version}.",
    "",
    "Per environment: `.venv/bin/pytest steps -p no:cacheprovider -q --env <env>` (every feature on the static "
    "target: plan facts plus the rendered overlay; exit status 1 means a requirement failed, see below) and "
    "`checkov --framework terraform --directory infra/terraform/environments/<env> --var-file .../terraform.tfvars`. "
    "Cold = `rm -rf .work/terraform/plans` first (each environment planned against the embedded emulator); "
    "warm = the same commands again with the plans cached.",
    "",
    "| environment | static cold (s) | static warm (s) | checkov (s) | warm / checkov |",
    "|---|---|---|---|---|",
]
for e in envs:
    c, w, k = rows[f"cold-{e}"], rows[f"warm-{e}"], rows[f"checkov-{e}"]
    lines.append(f"| {e} | {c[0]:.1f} (exit {c[1]}) | {w[0]:.1f} (exit {w[1]}) | {k[0]:.1f} | {w[0] / k[0]:.2f} |")
lines.append(
    f"| **all three** | {total['cold']:.1f} | {total['warm']:.1f} | {total['checkov']:.1f} | "
    f"{total['warm'] / total['checkov']:.2f} |"
)
lines += ["", f"Cold / warm: {total['cold'] / total['warm']:.1f}x. Goal (issue 3): warm faster than checkov "
          f"({'met' if total['warm'] < total['checkov'] else 'not met'}).", "<!-- bench:static:end -->"]
section = "\n".join(lines) + "\n"
print(section)
if docs:
    path = pathlib.Path("docs/benchmarks.md")
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    start, end = "<!-- bench:static:start -->", "<!-- bench:static:end -->"
    if start in text and end in text:
        text = text[: text.index(start)] + section.rstrip("\n") + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)
PY
