provider "aws" {
  region = var.region
}

locals {
  name = "colink-${terraform.workspace}"
  azs  = slice(data.aws_availability_zones.available.names, 0, 3)
  tags = {
    Project   = "colink"
    Workspace = terraform.workspace
  }
}

data "aws_availability_zones" "available" {
  state = "available"
}

module "vpc" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "~> 5.16"

  name            = local.name
  cidr            = "10.20.0.0/16"
  azs             = local.azs
  private_subnets = ["10.20.0.0/20", "10.20.16.0/20", "10.20.32.0/20"]
  public_subnets  = ["10.20.48.0/24", "10.20.49.0/24", "10.20.50.0/24"]

  enable_nat_gateway   = true
  single_nat_gateway   = true
  enable_dns_hostnames = true

  public_subnet_tags  = { "kubernetes.io/role/elb" = 1 }
  private_subnet_tags = { "kubernetes.io/role/internal-elb" = 1 }
  tags                = local.tags
}

module "eks" {
  source  = "terraform-aws-modules/eks/aws"
  version = "~> 20.31"

  cluster_name                             = local.name
  cluster_version                          = "1.30"
  cluster_endpoint_public_access           = true
  enable_cluster_creator_admin_permissions = true
  enable_irsa                              = true

  vpc_id     = module.vpc.vpc_id
  subnet_ids = module.vpc.private_subnets

  eks_managed_node_groups = {
    default = {
      instance_types = [var.node_instance_type]
      min_size       = 2
      max_size       = 6
      desired_size   = 3
    }
  }
  tags = local.tags
}

module "data" {
  source = "./modules/data"

  name                = local.name
  vpc_id              = module.vpc.vpc_id
  subnet_ids          = module.vpc.private_subnets
  client_cidr         = module.vpc.vpc_cidr_block
  web_origin          = "https://${var.domain}"
  db_instance_class   = var.db_instance_class
  cache_node_type     = var.cache_node_type
  kafka_instance_type = var.kafka_instance_type
  tags                = local.tags
}

provider "kubernetes" {
  host                   = module.eks.cluster_endpoint
  cluster_ca_certificate = base64decode(module.eks.cluster_certificate_authority_data)
  exec {
    api_version = "client.authentication.k8s.io/v1beta1"
    command     = "aws"
    args        = ["eks", "get-token", "--cluster-name", module.eks.cluster_name]
  }
}

provider "helm" {
  kubernetes {
    host                   = module.eks.cluster_endpoint
    cluster_ca_certificate = base64decode(module.eks.cluster_certificate_authority_data)
    exec {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = ["eks", "get-token", "--cluster-name", module.eks.cluster_name]
    }
  }
}

module "chart" {
  source = "./modules/chart"

  namespace     = "colink"
  chart_path    = "${path.root}/../../helm/colink"
  domain        = var.domain
  oidc_issuer   = var.oidc_issuer
  region        = var.region
  database_url  = module.data.database_url
  redis_url     = module.data.redis_url
  kafka_brokers = module.data.kafka_brokers
  bucket        = module.data.bucket
  s3_access_key = module.data.s3_access_key
}
