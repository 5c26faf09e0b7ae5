output "zone_id" {
  description = "Route 53 public hosted zone ID (external-dns --zone-id-filter)."
  value       = aws_route53_zone.public.zone_id
}

output "zone_arn" {
  description = "Route 53 public hosted zone ARN (scope of the external-dns role)."
  value       = aws_route53_zone.public.arn
}

output "name_servers" {
  description = "Name servers to delegate the domain to."
  value       = aws_route53_zone.public.name_servers
}

output "certificate_arn" {
  description = "Validated ACM certificate for the ALB Ingress (alb.ingress.kubernetes.io/certificate-arn)."
  value       = aws_acm_certificate_validation.this.certificate_arn
}

output "bastion_instance_id" {
  description = "Bastion instance ID (aws ssm start-session --target <id>), null when disabled."
  value       = try(aws_instance.bastion[0].id, null)
}
