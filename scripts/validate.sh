#!/usr/bin/env bash
# Health check of an eks-shop environment (the seed's validate.sh), in two modes:
#   --offline  no cluster needed: render infra/kubernetes/overlays/<env> with kubectl kustomize and validate every
#              object with kubernetes-validate --strict against the schemas of the cluster's Kubernetes version,
#              read from reference/architecture.yaml eks.version (CRD kinds - ExternalSecret, ClusterSecretStore,
#              ServiceMonitor - have no schema there and are reported as skipped); check that no placeholder token
#              (ENV) is left and that bash -n passes on the scripts.
#   (default)  against the live cluster eks-ecommerce-<env>: nodes Ready, the five Deployments rolled out, HPAs
#              with current metrics, PDBs, ExternalSecrets synced, the Ingress has an ALB address and
#              https://<domain>/readyz answers, the add-ons (cluster-autoscaler, metrics-server, Fluent Bit, X-Ray)
#              are available.
# --dry-run prints the steps of the chosen mode instead of running them.
set -euo pipefail

readonly SCRIPT_NAME="${0##*/}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_ROOT
readonly REGION="us-east-1" # reference/architecture.yaml region
readonly APP_NAMESPACE="ecommerce"
readonly SERVICES=(frontend gateway catalog orders users)
K8S_SCHEMA_VERSION="" # <eks.version>.0, set by the offline mode from reference/architecture.yaml

usage() {
  cat <<EOF
Usage: ${SCRIPT_NAME} <dev|staging|prod|all> [options]

Options:
  --offline   validate the rendered manifests only (no cluster); "all" checks every overlay
  --dry-run   print the steps instead of running them
  -h, --help  show this help

Environment:
  KUBERNETES_VALIDATE  kubernetes-validate binary (default: .venv/bin/kubernetes-validate, then PATH)
  PYTHON               Python with the project installed, to read the Kubernetes version from
                       reference/architecture.yaml (default: .venv/bin/python, then python3)
  DOMAIN               storefront domain to probe (default: shop.<env>.example.com, shop.example.com in prod)
EOF
}

log() { printf '\n==> %s\n' "$*" >&2; }
die() { printf '%s: error: %s\n' "${SCRIPT_NAME}" "$*" >&2; exit 1; }

DRY_RUN=false
FAILURES=0
run() {
  if [[ "${DRY_RUN}" == true ]]; then
    printf '+ %s\n' "$*"
  else
    "$@"
  fi
}
# check DESCRIPTION CMD...: run a check, count a failure instead of stopping at the first one.
check() {
  local description="$1"
  shift
  if [[ "${DRY_RUN}" == true ]]; then
    printf '+ [%s] %s\n' "${description}" "$*"
    return 0
  fi
  if "$@"; then
    printf 'ok    %s\n' "${description}"
  else
    printf 'FAIL  %s\n' "${description}"
    FAILURES=$((FAILURES + 1))
  fi
}

require_tools() {
  local missing=() tool
  for tool in "$@"; do
    command -v "${tool}" >/dev/null 2>&1 || missing+=("${tool}")
  done
  if ((${#missing[@]} > 0)); then
    local msg="missing required tool(s): ${missing[*]}"
    if [[ "${DRY_RUN}" == true ]]; then
      printf '%s: warning: %s; continuing because of --dry-run\n' "${SCRIPT_NAME}" "${msg}" >&2
    else
      die "${msg}"
    fi
  fi
}

kubernetes_validate_bin() {
  if [[ -n "${KUBERNETES_VALIDATE:-}" ]]; then
    echo "${KUBERNETES_VALIDATE}"
  elif [[ -x "${REPO_ROOT}/.venv/bin/kubernetes-validate" ]]; then
    echo "${REPO_ROOT}/.venv/bin/kubernetes-validate"
  elif command -v kubernetes-validate >/dev/null 2>&1; then
    command -v kubernetes-validate
  else
    die "kubernetes-validate not found: pip install 'kubernetes-validate>=${K8S_SCHEMA_VERSION%.*}' (it is in the dev extra)"
  fi
}

python_bin() {
  if [[ -n "${PYTHON:-}" ]]; then
    echo "${PYTHON}"
  elif [[ -x "${REPO_ROOT}/.venv/bin/python" ]]; then
    echo "${REPO_ROOT}/.venv/bin/python"
  else
    echo python3
  fi
}

# reference_kubernetes_version: the cluster's Kubernetes minor (eks.version), through the reference's own loader so
# that the validator and the tests read one value. No copy of it lives in this script.
reference_kubernetes_version() {
  local python version errors="${WORK_DIR}/reference.err"
  python="$(python_bin)"
  if ! version="$("${python}" -c 'import sys; sys.path.insert(0, sys.argv[1])
from reference import load_architecture
print(load_architecture().eks.version)' "${REPO_ROOT}" 2>"${errors}")"; then
    cat "${errors}" >&2
    local msg="cannot read eks.version from reference/architecture.yaml with ${python} (set PYTHON to a Python with the project installed: scripts/setup.sh)"
    if [[ "${DRY_RUN}" == true ]]; then
      printf '%s: warning: %s; continuing because of --dry-run\n' "${SCRIPT_NAME}" "${msg}" >&2
      echo "<eks.version>"
      return 0
    fi
    die "${msg}"
  fi
  [[ "${version}" =~ ^[0-9]+\.[0-9]+$ ]] || die "reference/architecture.yaml eks.version is not <major>.<minor>: ${version}"
  echo "${version}"
}

# validate_rendered FILE: kubernetes-validate --strict; CRD kinds without a schema are warnings, not failures.
validate_rendered() {
  local file="$1" validator output
  validator="$(kubernetes_validate_bin)"
  if ! output="$("${validator}" -k "${K8S_SCHEMA_VERSION}" --strict --quiet "${file}" 2>&1)"; then
    printf '%s\n' "${output}" >&2
    return 1
  fi
  local skipped
  skipped="$(printf '%s\n' "${output}" | sed -n -E "s/.*schema for kind ([A-Za-z]+) with api version ([^ ]+) .*/\\1 (\\2)/p" | sort | uniq -c |
    awk '{printf "%s%s x%s", (NR > 1 ? ", " : ""), $2 " " $3, $1}')"
  [[ -z "${skipped}" ]] || printf '      skipped, no schema (CRDs): %s\n' "${skipped}" >&2
}

no_placeholder_env() {
  ! grep -nE '(^|[-/.=])ENV([-/.]|$)' "$1"
}

offline() {
  local env="$1" rendered
  log "Offline: overlay ${env}"
  rendered="${WORK_DIR}/${env}.yaml"
  if [[ "${DRY_RUN}" == true ]]; then
    printf '+ kubectl kustomize %s > %s\n' "infra/kubernetes/overlays/${env}" "${rendered}"
    printf '+ kubernetes-validate -k %s --strict %s\n' "${K8S_SCHEMA_VERSION}" "${rendered}"
    return 0
  fi
  check "overlay ${env} renders" sh -c "kubectl kustomize '${REPO_ROOT}/infra/kubernetes/overlays/${env}' > '${rendered}'"
  [[ -s "${rendered}" ]] || return 0
  check "overlay ${env}: every object valid against Kubernetes ${K8S_SCHEMA_VERSION} (strict)" validate_rendered "${rendered}"
  check "overlay ${env}: no ENV placeholder left" no_placeholder_env "${rendered}"
}

online() {
  local env="$1" cluster="eks-ecommerce-$1" svc domain
  if [[ "${env}" == prod ]]; then domain="${DOMAIN:-shop.example.com}"; else domain="${DOMAIN:-shop.${env}.example.com}"; fi
  log "Online: ${cluster}"
  run aws eks update-kubeconfig --name "${cluster}" --region "${REGION}"
  check "nodes Ready" kubectl wait --for=condition=Ready nodes --all --timeout=60s
  for svc in "${SERVICES[@]}"; do
    check "deployment/${svc} rolled out" kubectl -n "${APP_NAMESPACE}" rollout status "deployment/${svc}" --timeout=120s
    check "hpa/${svc} has current CPU metrics" sh -c \
      "kubectl -n ${APP_NAMESPACE} get hpa ${svc} -o jsonpath='{.status.currentMetrics[0].resource.current.averageUtilization}' | grep -Eq '^[0-9]+$'"
    check "pdb/${svc} exists" kubectl -n "${APP_NAMESPACE}" get pdb "${svc}"
  done
  check "ExternalSecrets synced" kubectl -n "${APP_NAMESPACE}" wait --for=condition=Ready externalsecret --all --timeout=60s
  check "Ingress has an ALB address" sh -c \
    "kubectl -n ${APP_NAMESPACE} get ingress eks-shop -o jsonpath='{.status.loadBalancer.ingress[0].hostname}' | grep -q elb.amazonaws.com"
  check "https://${domain}/readyz answers 200" sh -c "curl -fsS -o /dev/null --max-time 10 https://${domain}/readyz"
  check "cluster-autoscaler available" kubectl -n kube-system rollout status deployment/cluster-autoscaler --timeout=60s
  check "metrics-server available" kubectl -n kube-system rollout status deployment/metrics-server --timeout=60s
  check "metrics API serves node metrics" kubectl top nodes
  check "fluent-bit on every node" kubectl -n amazon-cloudwatch rollout status daemonset/fluent-bit --timeout=60s
  check "xray-daemon on every node" kubectl -n kube-system rollout status daemonset/xray-daemon --timeout=60s
}

main() {
  local arg target="" mode=online env
  for arg in "$@"; do
    case "${arg}" in
      -h | --help) usage; exit 0 ;;
      --dry-run) DRY_RUN=true ;;
      --offline) mode=offline ;;
      dev | staging | prod | all) target="${arg}" ;;
      *) usage >&2; die "unknown argument: ${arg}" ;;
    esac
  done
  [[ -n "${target}" ]] || { usage >&2; die "missing environment (dev, staging, prod or all)"; }
  [[ "${target}" != all || "${mode}" == offline ]] || die "'all' is only for --offline"
  WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/eks-shop-validate.XXXXXX")"
  trap 'rm -rf "${WORK_DIR}"' EXIT

  local envs=("${target}")
  [[ "${target}" != all ]] || envs=(dev staging prod)
  if [[ "${mode}" == offline ]]; then
    require_tools kubectl
    K8S_SCHEMA_VERSION="$(reference_kubernetes_version).0"
    readonly K8S_SCHEMA_VERSION
    local script
    for script in deploy destroy validate; do
      check "scripts/${script}.sh parses (bash -n)" bash -n "${REPO_ROOT}/scripts/${script}.sh"
    done
    for env in "${envs[@]}"; do offline "${env}"; done
  else
    require_tools kubectl aws curl
    online "${target}"
  fi
  if ((FAILURES > 0)); then
    die "${FAILURES} check(s) failed"
  fi
  log "All checks passed"
}

main "$@"
