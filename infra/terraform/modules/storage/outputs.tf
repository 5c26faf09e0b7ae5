output "bucket_name" {
  description = "Orders bucket name."
  value       = aws_s3_bucket.orders.bucket
}

output "bucket_arn" {
  description = "Orders bucket ARN, built from the name so that it (and the orders IAM policy) is known at plan time."
  value       = "arn:${data.aws_partition.current.partition}:s3:::${aws_s3_bucket.orders.bucket}"
}
