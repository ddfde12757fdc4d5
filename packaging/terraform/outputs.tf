output "cluster_name" {
  value = module.eks.cluster_name
}

output "cluster_endpoint" {
  value = module.eks.cluster_endpoint
}

output "database_endpoint" {
  value = module.data.database_endpoint
}

output "redis_endpoint" {
  value = module.data.redis_url
}

output "kafka_brokers" {
  value = module.data.kafka_brokers
}

output "bucket" {
  value = module.data.bucket
}

output "url" {
  value = "https://${var.domain}"
}
