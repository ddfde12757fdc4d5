variable "region" {
  description = "AWS region"
  type        = string
  default     = "eu-west-1"
}

variable "domain" {
  description = "The host name people reach CoLink at (the Ingress host and server.public_url)"
  type        = string
}

variable "oidc_issuer" {
  description = "The OIDC provider's issuer URL (Keycloak: https://sso.example.com/realms/colink)"
  type        = string
  default     = ""
}

variable "node_instance_type" {
  description = "EKS worker nodes"
  type        = string
  default     = "t3.medium"
}

variable "db_instance_class" {
  description = "RDS PostgreSQL"
  type        = string
  default     = "db.t3.small"
}

variable "cache_node_type" {
  description = "ElastiCache Redis"
  type        = string
  default     = "cache.t3.micro"
}

variable "kafka_instance_type" {
  description = "MSK brokers"
  type        = string
  default     = "kafka.t3.small"
}
