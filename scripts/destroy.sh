#!/usr/bin/env bash
# Tear eks-shop down, the deployment phases of scripts/deploy.sh in reverse:
#   4. applications     delete the Ingress first and wait until the AWS Load Balancer Controller has removed the ALB
#                       (otherwise the ALB and its security groups outlive the controller and block the VPC
#                       deletion), then kubectl delete -k infra/kubernetes/overlays/<env>
#   3. platform         helm uninstall kube-prometheus-stack, external-secrets, external-dns,
#                       aws-load-balancer-controller
#   2. kubectl          (nothing to undo; the kubeconfig context is left in place)
#   1. infrastructure   terraform destroy in infra/terraform/environments/<env>
# prod has deletion protection (reference environments.prod.deletion_protection): destroying it needs
# --i-really-mean-prod, and Terraform refuses anyway until deletion protection is switched off there.
#
# --dry-run prints every step instead of running it; nothing needs to be installed.
set -euo pipefail

readonly SCRIPT_NAME="${0##*/}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_ROOT
readonly REGION="us-east-1" # reference/architecture.yaml region
readonly APP_NAMESPACE="ecommerce"

usage() {
  cat <<EOF
Usage: ${SCRIPT_NAME} <dev|staging|prod> [options]

Deletes the eks-shop applications, the Helm add-ons and then the infrastructure of one environment.

Options:
  --dry-run             print the steps instead of running them (no tools or credentials needed)
  --keep-infrastructure stop after removing the Kubernetes objects and Helm releases
  --auto-approve        do not ask for confirmation
  --i-really-mean-prod  required to destroy prod
  -h, --help            show this help
EOF
}

log() { printf '\n==> %s\n' "$*" >&2; }
die() { printf '%s: error: %s\n' "${SCRIPT_NAME}" "$*" >&2; exit 1; }

DRY_RUN=false
run() {
  if [[ "${DRY_RUN}" == true ]]; then
    printf '+ %s\n' "$*"
  else
    "$@"
  fi
}

require_tools() {
  local missing=() tool
  for tool in "$@"; do
    command -v "${tool}" >/dev/null 2>&1 || missing+=("${tool}")
  done
  if ((${#missing[@]} > 0)); then
    local msg="missing required tool(s): ${missing[*]} (need terraform >= 1.6, aws CLI >= 2.13, kubectl 1.34-1.36 (within one minor of the cluster's 1.35), helm >= 3.12)"
    if [[ "${DRY_RUN}" == true ]]; then
      printf '%s: warning: %s; continuing because of --dry-run\n' "${SCRIPT_NAME}" "${msg}" >&2
    else
      die "${msg}"
    fi
  fi
}

phase_applications() {
  log "Phase 4 (reverse): applications of ${CLUSTER_NAME}"
  run aws eks update-kubeconfig --name "${CLUSTER_NAME}" --region "${REGION}"
  run kubectl -n "${APP_NAMESPACE}" delete ingress eks-shop --ignore-not-found --wait=true
  if [[ "${DRY_RUN}" == true ]]; then
    printf '+ wait until no ALB tagged elbv2.k8s.aws/cluster=%s remains (aws resourcegroupstaggingapi get-resources)\n' "${CLUSTER_NAME}"
  else
    local i
    for i in $(seq 1 60); do
      if ! aws resourcegroupstaggingapi get-resources --region "${REGION}" \
        --resource-type-filters elasticloadbalancing:loadbalancer \
        --tag-filters "Key=elbv2.k8s.aws/cluster,Values=${CLUSTER_NAME}" \
        --query 'ResourceTagMappingList[].ResourceARN' --output text | grep -q .; then
        break
      fi
      echo "waiting for the AWS Load Balancer Controller to delete the ALB (${i}/60)"
      sleep 10
    done
  fi
  # The overlay is applied from a rendered copy; deleting by the repository overlay works because deletion goes by
  # kind, namespace and name, which the placeholders do not change.
  run kubectl delete -k "${REPO_ROOT}/infra/kubernetes/overlays/${ENVIRONMENT}" --ignore-not-found --wait=true
}

phase_platform() {
  log "Phase 3 (reverse): platform services"
  run helm uninstall kube-prometheus-stack --namespace monitoring --ignore-not-found --wait
  run helm uninstall external-secrets --namespace external-secrets --ignore-not-found --wait
  run helm uninstall external-dns --namespace kube-system --ignore-not-found --wait
  run helm uninstall aws-load-balancer-controller --namespace kube-system --ignore-not-found --wait
  run kubectl delete namespace monitoring external-secrets --ignore-not-found --wait=true
}

phase_terraform() {
  log "Phase 1 (reverse): infrastructure (terraform destroy, ${TF_DIR#"${REPO_ROOT}"/})"
  [[ "${DRY_RUN}" == true || -d "${TF_DIR}" ]] || die "${TF_DIR} does not exist"
  run terraform -chdir="${TF_DIR}" init -input=false
  if [[ "${AUTO_APPROVE}" == true ]]; then
    run terraform -chdir="${TF_DIR}" destroy -input=false -auto-approve
  else
    run terraform -chdir="${TF_DIR}" destroy -input=false
  fi
}

main() {
  local arg
  ENVIRONMENT=""
  KEEP_INFRA=false
  AUTO_APPROVE=false
  MEAN_PROD=false
  for arg in "$@"; do
    case "${arg}" in
      -h | --help) usage; exit 0 ;;
      --dry-run) DRY_RUN=true ;;
      --keep-infrastructure) KEEP_INFRA=true ;;
      --auto-approve) AUTO_APPROVE=true ;;
      --i-really-mean-prod) MEAN_PROD=true ;;
      dev | staging | prod) ENVIRONMENT="${arg}" ;;
      *) usage >&2; die "unknown argument: ${arg}" ;;
    esac
  done
  [[ -n "${ENVIRONMENT}" ]] || { usage >&2; die "missing environment (dev, staging or prod)"; }
  if [[ "${ENVIRONMENT}" == prod && "${MEAN_PROD}" != true ]]; then
    die "prod is deletion-protected; pass --i-really-mean-prod to destroy it"
  fi
  CLUSTER_NAME="eks-ecommerce-${ENVIRONMENT}"
  TF_DIR="${REPO_ROOT}/infra/terraform/environments/${ENVIRONMENT}"

  local tools=(kubectl helm aws)
  [[ "${KEEP_INFRA}" == true ]] || tools+=(terraform)
  require_tools "${tools[@]}"

  if [[ "${AUTO_APPROVE}" != true && "${DRY_RUN}" != true ]]; then
    read -r -p "Destroy ${CLUSTER_NAME} and everything in it? Type the environment name to continue: " answer
    [[ "${answer}" == "${ENVIRONMENT}" ]] || die "aborted"
  fi

  phase_applications
  phase_platform
  [[ "${KEEP_INFRA}" == true ]] || phase_terraform
  log "Done: ${CLUSTER_NAME} torn down."
}

main "$@"
