output "bucket_name" {
  description = "Orders bucket name."
  value       = aws_s3_bucket.orders.bucket
}

output "bucket_arn" {
  description = "Orders bucket ARN."
  value       = aws_s3_bucket.orders.arn
}
