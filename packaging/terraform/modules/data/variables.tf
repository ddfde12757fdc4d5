variable "name" {
  type = string
}

variable "vpc_id" {
  type = string
}

variable "subnet_ids" {
  type = list(string)
}

variable "web_origin" {
  description = "The web app's origin (https://chat.example.com), allowed to PUT and GET files"
  type        = string
}

variable "client_cidr" {
  description = "Who may connect to the databases: the VPC (the EKS nodes)"
  type        = string
}

variable "db_instance_class" {
  type = string
}

variable "cache_node_type" {
  type = string
}

variable "kafka_instance_type" {
  type = string
}

variable "tags" {
  type = map(string)
}
