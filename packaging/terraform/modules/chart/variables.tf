variable "namespace" {
  type = string
}

variable "chart_path" {
  type = string
}

variable "domain" {
  type = string
}

variable "oidc_issuer" {
  type = string
}

variable "region" {
  type = string
}

variable "database_url" {
  type      = string
  sensitive = true
}

variable "redis_url" {
  type = string
}

variable "kafka_brokers" {
  type = list(string)
}

variable "bucket" {
  type = string
}

variable "s3_access_key" {
  type = object({
    id     = string
    secret = string
  })
  sensitive = true
}
