output "database_url" {
  value     = "postgres://colink:${random_password.db.result}@${aws_db_instance.postgres.endpoint}/colink?sslmode=require"
  sensitive = true
}

output "database_endpoint" {
  value = aws_db_instance.postgres.endpoint
}

output "redis_url" {
  value = "redis://${aws_elasticache_replication_group.redis.primary_endpoint_address}:6379"
}

output "kafka_brokers" {
  value = split(",", aws_msk_cluster.kafka.bootstrap_brokers_tls)
}

output "bucket" {
  value = aws_s3_bucket.files.bucket
}

output "s3_access_key" {
  value = {
    id     = aws_iam_access_key.colink.id
    secret = aws_iam_access_key.colink.secret
  }
  sensitive = true
}
