#!/usr/bin/env bash
# Deploy eks-shop to one environment, following the seed's deployment phases:
#   1. infrastructure   terraform init/plan/apply in infra/terraform/environments/<env>, outputs -> outputs.json
#   2. kubectl          aws eks update-kubeconfig --name eks-ecommerce-<env>, check the nodes
#   3. platform         helm upgrade --install of the charted add-ons with the values in infra/platform/
#                       (AWS Load Balancer Controller, external-dns, External Secrets Operator, kube-prometheus-stack)
#   4. applications     kubectl apply -k of infra/kubernetes/overlays/<env> (the five services plus the plain-manifest
#                       add-ons: cluster-autoscaler, metrics-server, Fluent Bit, X-Ray daemon, dashboards,
#                       ClusterSecretStore), then wait for the rollouts
#
# Account id and other per-environment values: the repository holds placeholders only (account 111122223333,
# the "ENV" token in Helm values, *.placeholder.* data-store hosts in overlays/<env>/settings.yaml). Phase 4 copies
# infra/kubernetes to a temporary directory, writes the real values into the copy's overlays/<env>/settings.yaml
# (account from `aws sts get-caller-identity`, endpoints from `terraform output`, certificate and domain from the
# environment) and applies that copy; phase 3 renders the Helm values the same way. The repository never changes.
#
# --dry-run prints every step (with placeholder values) instead of running it; nothing needs to be installed.
set -euo pipefail

readonly SCRIPT_NAME="${0##*/}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_ROOT
readonly REGION="us-east-1" # reference/architecture.yaml region; the manifests are written for it
readonly PLACEHOLDER_ACCOUNT="111122223333"
readonly APP_NAMESPACE="ecommerce"
readonly SERVICES=(frontend gateway catalog orders users)
# Chart versions (override with the environment variables of the same name).
readonly ALB_CHART_VERSION="${ALB_CHART_VERSION:-1.8.2}"
readonly EXTERNAL_DNS_CHART_VERSION="${EXTERNAL_DNS_CHART_VERSION:-1.14.5}"
readonly EXTERNAL_SECRETS_CHART_VERSION="${EXTERNAL_SECRETS_CHART_VERSION:-0.10.4}"
readonly KUBE_PROMETHEUS_STACK_CHART_VERSION="${KUBE_PROMETHEUS_STACK_CHART_VERSION:-61.9.0}"

usage() {
  cat <<EOF
Usage: ${SCRIPT_NAME} <dev|staging|prod> [options]

Deploys eks-shop to the environment in four phases: terraform apply, kubeconfig, Helm add-ons, kubectl apply -k.

Options:
  --dry-run          print the steps instead of running them (no tools or credentials needed)
  --skip-terraform   start at phase 2 (the infrastructure already exists)
  --auto-approve     apply the terraform plan without asking
  -h, --help         show this help

Environment:
  DOMAIN             storefront domain (default: shop.<env>.example.com, shop.example.com in prod)
  CERTIFICATE_ARN    ACM certificate for the ALB (default: terraform output certificate_arn)
  IMAGE_TAG          immutable image tag of the five services (default: the overlay's settings.yaml)
  *_CHART_VERSION    pin another chart version (ALB_, EXTERNAL_DNS_, EXTERNAL_SECRETS_, KUBE_PROMETHEUS_STACK_)
EOF
}

log() { printf '\n==> %s\n' "$*" >&2; }
die() { printf '%s: error: %s\n' "${SCRIPT_NAME}" "$*" >&2; exit 1; }

DRY_RUN=false
# run CMD...: run a command, or print it in dry-run mode.
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

# tf_output NAME: a terraform output of the environment, empty when it does not exist.
tf_output() {
  if [[ "${DRY_RUN}" == true ]]; then
    printf '<terraform output %s>' "$1"
    return 0
  fi
  terraform -chdir="${TF_DIR}" output -raw "$1" 2>/dev/null || true
}

# render_placeholders FILE: replace the repository placeholders in a copy of a values/settings file.
render_placeholders() {
  local file="$1"
  sed -i \
    -e "s/${PLACEHOLDER_ACCOUNT}/${ACCOUNT_ID}/g" \
    -e "s/eks-ecommerce-ENV/${CLUSTER_NAME}/g" \
    "${file}"
}

# set_setting FILE KEY VALUE: set one key of the settings ConfigMap (a copy of overlays/<env>/settings.yaml).
set_setting() {
  local file="$1" key="$2" value="$3"
  [[ -n "${value}" ]] || return 0
  # '|' cannot occur in the values we write (ARNs, host names, URLs).
  sed -i -E "s|^(  ${key}: ).*$|\\1${value}|" "${file}"
}

phase_terraform() {
  log "Phase 1: infrastructure (terraform, ${TF_DIR#"${REPO_ROOT}"/})"
  [[ "${DRY_RUN}" == true || -d "${TF_DIR}" ]] || die "${TF_DIR} does not exist"
  run terraform -chdir="${TF_DIR}" init -input=false
  run terraform -chdir="${TF_DIR}" plan -input=false -out=tfplan
  if [[ "${AUTO_APPROVE}" != true && "${DRY_RUN}" != true ]]; then
    read -r -p "Apply this plan to ${ENVIRONMENT}? Type the environment name to continue: " answer
    [[ "${answer}" == "${ENVIRONMENT}" ]] || die "aborted"
  fi
  run terraform -chdir="${TF_DIR}" apply -input=false tfplan
  if [[ "${DRY_RUN}" == true ]]; then
    printf '+ terraform -chdir=%s output -json > %s/outputs.json\n' "${TF_DIR}" "${TF_DIR}"
  else
    terraform -chdir="${TF_DIR}" output -json >"${TF_DIR}/outputs.json"
  fi
}

phase_kubeconfig() {
  log "Phase 2: kubectl for ${CLUSTER_NAME}"
  run aws eks update-kubeconfig --name "${CLUSTER_NAME}" --region "${REGION}"
  run kubectl get nodes -o wide
  run kubectl get namespaces
}

phase_platform() {
  log "Phase 3: platform services (Helm, values from infra/platform/)"
  local values_dir="${WORK_DIR}/platform-values" f
  mkdir -p "${values_dir}"
  cp "${REPO_ROOT}"/infra/platform/*.yaml "${values_dir}/"
  for f in "${values_dir}"/*.yaml; do render_placeholders "${f}"; done
  sed -i -e "s/^  - example.com$/  - ${DOMAIN#shop.}/" "${values_dir}/external-dns.yaml"

  run helm repo add eks https://aws.github.io/eks-charts --force-update
  run helm repo add external-dns https://kubernetes-sigs.github.io/external-dns/ --force-update
  run helm repo add external-secrets https://charts.external-secrets.io --force-update
  run helm repo add prometheus-community https://prometheus-community.github.io/helm-charts --force-update
  run helm repo update

  run helm upgrade --install aws-load-balancer-controller eks/aws-load-balancer-controller \
    --namespace kube-system --version "${ALB_CHART_VERSION}" \
    -f "${values_dir}/aws-load-balancer-controller.yaml" --set "vpcId=${VPC_ID}" --wait
  run helm upgrade --install external-dns external-dns/external-dns \
    --namespace kube-system --version "${EXTERNAL_DNS_CHART_VERSION}" \
    -f "${values_dir}/external-dns.yaml" --wait
  run helm upgrade --install external-secrets external-secrets/external-secrets \
    --namespace external-secrets --create-namespace --version "${EXTERNAL_SECRETS_CHART_VERSION}" \
    -f "${values_dir}/external-secrets.yaml" --wait

  # Grafana's admin credentials never live in values: a random password in the Secret grafana-admin, created once.
  if [[ "${DRY_RUN}" == true ]]; then
    printf '+ kubectl create namespace monitoring (only if absent)\n'
  elif ! kubectl get namespace monitoring >/dev/null 2>&1; then
    kubectl create namespace monitoring
  fi
  if [[ "${DRY_RUN}" == true ]]; then
    printf '+ kubectl -n monitoring create secret generic grafana-admin --from-literal=admin-user=admin --from-literal=admin-password=<random> (only if absent)\n'
  elif ! kubectl -n monitoring get secret grafana-admin >/dev/null 2>&1; then
    kubectl -n monitoring create secret generic grafana-admin \
      --from-literal=admin-user=admin \
      --from-literal=admin-password="$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32)" >/dev/null
    echo "created secret monitoring/grafana-admin (read it with kubectl -n monitoring get secret grafana-admin)"
  fi
  run helm upgrade --install kube-prometheus-stack prometheus-community/kube-prometheus-stack \
    --namespace monitoring --version "${KUBE_PROMETHEUS_STACK_CHART_VERSION}" \
    -f "${values_dir}/kube-prometheus-stack.yaml" --wait --timeout 15m
}

# wait_for_migrations TAG: wait until the schema migrate Jobs of the release TAG complete; a failed Job stops the
# deployment with its log (the services keep running on their old ReplicaSet: the new pods are never ready).
wait_for_migrations() {
  local tag="$1" job state deadline=$((SECONDS + 900))
  for job in catalog-migrate users-migrate; do
    if [[ "${DRY_RUN}" == true ]]; then
      printf '+ wait for job/%s-%s to complete (kubectl get job, up to 15 min)\n' "${job}" "${tag}"
      continue
    fi
    while true; do
      state="$(kubectl -n "${APP_NAMESPACE}" get "job/${job}-${tag}" \
        -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type}{" "}{end}' 2>/dev/null || true)"
      case " ${state}" in
        *" Complete "*) echo "job/${job}-${tag} complete"; break ;;
        *" Failed "*)
          kubectl -n "${APP_NAMESPACE}" logs "job/${job}-${tag}" --tail=50 >&2 || true
          die "job/${job}-${tag} failed: the schema is not migrated and the services stay on their old pods (docs/deployment-guide.md, Schema migrations)" ;;
      esac
      ((SECONDS < deadline)) || die "job/${job}-${tag} did not complete within 15 minutes"
      sleep 5
    done
  done
}

phase_applications() {
  log "Phase 4: applications (kubectl apply -k infra/kubernetes/overlays/${ENVIRONMENT})"
  local tree="${WORK_DIR}/kubernetes" settings
  cp -R "${REPO_ROOT}/infra/kubernetes" "${tree}"
  settings="${tree}/overlays/${ENVIRONMENT}/settings.yaml"
  set_setting "${settings}" account_id "\"${ACCOUNT_ID}\""
  set_setting "${settings}" certificate_arn "${CERTIFICATE_ARN}"
  set_setting "${settings}" hostnames "${DOMAIN},*.${DOMAIN}"
  set_setting "${settings}" image_tag "${IMAGE_TAG:+\"${IMAGE_TAG}\"}"
  if [[ -n "${RDS_ENDPOINT}" ]]; then
    set_setting "${settings}" catalog_database_url "postgresql://catalog@${RDS_ENDPOINT}:5432/catalog?sslmode=verify-full"
    set_setting "${settings}" users_database_url "postgresql://users@${RDS_ENDPOINT}:5432/users?sslmode=verify-full"
  fi
  if [[ -n "${DOCDB_ENDPOINT}" ]]; then
    # '\&': a literal '&' in the sed replacement
    set_setting "${settings}" orders_mongo_url \
      "mongodb://${DOCDB_ENDPOINT}:27017/orders?tls=true\&replicaSet=rs0\&readPreference=secondaryPreferred\&retryWrites=false"
  fi
  if [[ -n "${REDIS_ENDPOINT}" ]]; then
    set_setting "${settings}" gateway_redis_url "rediss://${REDIS_ENDPOINT}:6379/0"
  fi
  # The orders ExternalSecret reads DocumentDB's managed master secret by its exact ARN.
  set_setting "${settings}" orders_documentdb_secret_arn "${DOCDB_SECRET_ARN}"
  # The schema migrate Jobs' ExternalSecret reads the RDS-managed master user secret by its exact ARN.
  set_setting "${settings}" postgres_owner_secret_arn "${RDS_OWNER_SECRET_ARN}"

  if [[ "${DRY_RUN}" == true ]]; then
    printf '+ (settings written to a copy of overlays/%s/settings.yaml)\n' "${ENVIRONMENT}"
  else
    grep -q "${PLACEHOLDER_ACCOUNT}" "${settings}" && die "account id still the placeholder in ${settings}"
    grep -q 'rds!cluster-00000000-' "${settings}" \
      && die "orders_documentdb_secret_arn still the placeholder in ${settings} (terraform output documentdb_secret_arn)"
    grep -q 'rds!db-00000000-' "${settings}" \
      && die "postgres_owner_secret_arn still the placeholder in ${settings} (terraform output rds_master_user_secret_arn)"
  fi
  # Release order: the schema first, then the rollout. On a running platform the migrate Jobs (and their
  # ServiceAccount, SecretStore, ExternalSecret, NetworkPolicy: label app.kubernetes.io/component=migration) are
  # applied alone and must complete before anything else changes. A first deployment applies everything at once;
  # the new pods stay unready until their Job has migrated (the services' schema check).
  local tag
  tag="$(sed -nE 's/^  image_tag: "?([^"]*)"?$/\1/p' "${settings}")"
  if [[ "${DRY_RUN}" == true ]] || kubectl get namespace "${APP_NAMESPACE}" >/dev/null 2>&1; then
    run kubectl apply -k "${tree}/overlays/${ENVIRONMENT}" -l app.kubernetes.io/component=migration
    wait_for_migrations "${tag}"
  fi
  run kubectl apply -k "${tree}/overlays/${ENVIRONMENT}"
  wait_for_migrations "${tag}"
  local svc
  for svc in "${SERVICES[@]}"; do
    run kubectl -n "${APP_NAMESPACE}" rollout status "deployment/${svc}" --timeout=10m
  done
  run kubectl -n kube-system rollout status deployment/cluster-autoscaler --timeout=5m
  run kubectl -n kube-system rollout status deployment/metrics-server --timeout=5m
  run kubectl get pods -n "${APP_NAMESPACE}"
  run kubectl get svc -n "${APP_NAMESPACE}"
  run kubectl get ingress -n "${APP_NAMESPACE}"
}

main() {
  local arg
  ENVIRONMENT=""
  SKIP_TERRAFORM=false
  AUTO_APPROVE=false
  for arg in "$@"; do
    case "${arg}" in
      -h | --help) usage; exit 0 ;;
      --dry-run) DRY_RUN=true ;;
      --skip-terraform) SKIP_TERRAFORM=true ;;
      --auto-approve) AUTO_APPROVE=true ;;
      dev | staging | prod) ENVIRONMENT="${arg}" ;;
      *) usage >&2; die "unknown argument: ${arg}" ;;
    esac
  done
  [[ -n "${ENVIRONMENT}" ]] || { usage >&2; die "missing environment (dev, staging or prod)"; }

  CLUSTER_NAME="eks-ecommerce-${ENVIRONMENT}"
  TF_DIR="${REPO_ROOT}/infra/terraform/environments/${ENVIRONMENT}"
  if [[ "${ENVIRONMENT}" == prod ]]; then DOMAIN="${DOMAIN:-shop.example.com}"; else DOMAIN="${DOMAIN:-shop.${ENVIRONMENT}.example.com}"; fi
  WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/eks-shop-deploy.XXXXXX")"
  trap 'rm -rf "${WORK_DIR}"' EXIT

  local tools=(kubectl helm aws)
  [[ "${SKIP_TERRAFORM}" == true ]] || tools+=(terraform)
  require_tools "${tools[@]}"
  [[ -d "${REPO_ROOT}/infra/kubernetes/overlays/${ENVIRONMENT}" ]] || die "no overlay for ${ENVIRONMENT}"

  [[ "${SKIP_TERRAFORM}" == true ]] || phase_terraform

  if [[ "${DRY_RUN}" == true ]]; then
    ACCOUNT_ID="<aws sts get-caller-identity Account>"
  else
    ACCOUNT_ID="$(aws sts get-caller-identity --query Account --output text)"
    [[ "${ACCOUNT_ID}" =~ ^[0-9]{12}$ ]] || die "could not read the AWS account id (aws sts get-caller-identity)"
  fi
  # Environment outputs this script reads (host names; a ":port" suffix, as in aws_db_instance.endpoint, is cut).
  VPC_ID="$(tf_output vpc_id)"
  RDS_ENDPOINT="$(tf_output postgres_endpoint)"
  RDS_ENDPOINT="${RDS_ENDPOINT%%:*}"
  DOCDB_ENDPOINT="$(tf_output documentdb_endpoint)"
  DOCDB_ENDPOINT="${DOCDB_ENDPOINT%%:*}"
  DOCDB_SECRET_ARN="$(tf_output documentdb_secret_arn)"
  RDS_OWNER_SECRET_ARN="$(tf_output rds_master_user_secret_arn)"
  REDIS_ENDPOINT="$(tf_output redis_configuration_endpoint)"
  REDIS_ENDPOINT="${REDIS_ENDPOINT%%:*}"
  CERTIFICATE_ARN="${CERTIFICATE_ARN:-$(tf_output certificate_arn)}"
  if [[ "${DRY_RUN}" != true ]]; then
    [[ -n "${VPC_ID}" ]] || die "terraform output vpc_id is empty (needed by the AWS Load Balancer Controller)"
    [[ -n "${CERTIFICATE_ARN}" ]] || die "no ACM certificate: set CERTIFICATE_ARN or add a certificate_arn output"
  fi

  phase_kubeconfig
  phase_platform
  phase_applications
  log "Done: ${CLUSTER_NAME}. Check it with scripts/validate.sh ${ENVIRONMENT}"
}

main "$@"
