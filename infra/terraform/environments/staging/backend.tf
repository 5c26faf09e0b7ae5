# Remote state for real use: S3 (versioned, encrypted) with a DynamoDB lock table. Both are created once per
# account outside this configuration (see infra/terraform/README.md). The offline conformance plan replaces this
# block with `backend "local" {}` through an override file in a copy of this directory.
terraform {
  backend "s3" {
    bucket         = "eks-shop-terraform-state"
    key            = "environments/staging/terraform.tfstate"
    region         = "us-east-1"
    dynamodb_table = "eks-shop-terraform-locks"
    encrypt        = true
  }
}
