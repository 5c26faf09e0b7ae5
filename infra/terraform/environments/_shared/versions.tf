terraform {
  # 1.9+ for validation blocks that reference other variables (node_group_min <= desired <= max).
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    # Conventions last so that they win over anything in var.tags.
    tags = merge(var.tags, {
      Project     = "eks-shop"
      Environment = var.environment
      ManagedBy   = "terraform"
    })
  }
}
