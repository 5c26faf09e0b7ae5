data "aws_partition" "current" {}

# ---------------------------------------------------------------------------------------------------------------
# DNS and TLS: the zone external-dns writes to, and the certificate the ALB Ingress terminates TLS with.
# ---------------------------------------------------------------------------------------------------------------

resource "aws_route53_zone" "public" {
  name    = var.domain_name
  comment = "${var.name} storefront (records managed by external-dns)"
  tags    = var.tags
}

resource "aws_acm_certificate" "this" {
  domain_name               = var.domain_name
  subject_alternative_names = ["*.${var.domain_name}"]
  validation_method         = "DNS"

  options {
    certificate_transparency_logging_preference = "ENABLED"
  }

  tags = merge(var.tags, { Name = var.domain_name })

  lifecycle {
    create_before_destroy = true
  }
}

# The apex and the wildcard share one validation record, hence allow_overwrite.
resource "aws_route53_record" "validation" {
  for_each = {
    for dvo in aws_acm_certificate.this.domain_validation_options : dvo.domain_name => {
      name   = dvo.resource_record_name
      type   = dvo.resource_record_type
      record = dvo.resource_record_value
    }
  }

  zone_id         = aws_route53_zone.public.zone_id
  name            = each.value.name
  type            = each.value.type
  ttl             = 60
  records         = [each.value.record]
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "this" {
  certificate_arn         = aws_acm_certificate.this.arn
  validation_record_fqdns = [for r in aws_route53_record.validation : r.fqdn]
}

# ---------------------------------------------------------------------------------------------------------------
# Bastion: in a public subnet as the seed draws it, but reachable through SSM Session Manager only.
# No key pair, no inbound rule at all, IMDSv2 only, encrypted root volume.
# ---------------------------------------------------------------------------------------------------------------

data "aws_ssm_parameter" "bastion_ami" {
  count = var.enable_bastion ? 1 : 0
  name  = var.bastion_ami_ssm_parameter
}

data "aws_iam_policy_document" "bastion_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "bastion" {
  count = var.enable_bastion ? 1 : 0

  name               = "${var.name}-bastion"
  assume_role_policy = data.aws_iam_policy_document.bastion_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "bastion_ssm" {
  count = var.enable_bastion ? 1 : 0

  role       = aws_iam_role.bastion[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "bastion" {
  count = var.enable_bastion ? 1 : 0

  name = "${var.name}-bastion"
  role = aws_iam_role.bastion[0].name
  tags = var.tags
}

resource "aws_security_group" "bastion" {
  count = var.enable_bastion ? 1 : 0

  name        = "${var.name}-bastion"
  description = "SSM-only bastion: no ingress; HTTPS out to the SSM endpoints"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-bastion" })
}

# The SSM agent dials out to ssm/ssmmessages/ec2messages over HTTPS; sessions ride on that outbound channel.
resource "aws_vpc_security_group_egress_rule" "bastion_https" {
  count = var.enable_bastion ? 1 : 0

  security_group_id = aws_security_group.bastion[0].id
  description       = "HTTPS to the SSM service endpoints"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_instance" "bastion" {
  count = var.enable_bastion ? 1 : 0

  ami                    = nonsensitive(data.aws_ssm_parameter.bastion_ami[0].value)
  instance_type          = var.bastion_instance_type
  subnet_id              = var.bastion_subnet_id
  vpc_security_group_ids = [aws_security_group.bastion[0].id]
  iam_instance_profile   = aws_iam_instance_profile.bastion[0].name
  # A public subnet routes to the internet gateway, not the NAT: the agent needs a public address to reach SSM.
  # With no inbound rule the address accepts nothing.
  associate_public_ip_address = true
  monitoring                  = true
  ebs_optimized               = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  root_block_device {
    volume_type           = "gp3"
    volume_size           = 20
    encrypted             = true
    kms_key_id            = var.ebs_kms_key_arn
    delete_on_termination = true
  }

  tags = merge(var.tags, { Name = "${var.name}-bastion" })

  lifecycle {
    # A newer AMI in the parameter must not replace a running bastion on every plan.
    ignore_changes = [ami]
  }
}
