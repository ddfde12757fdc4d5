# The chart in cluster mode (helm/colink/values-cluster.yaml), its backends filled in.

resource "random_password" "secret_key" {
  length  = 64
  special = false
}

resource "kubernetes_namespace" "colink" {
  metadata {
    name = var.namespace
  }
}

resource "kubernetes_secret" "colink" {
  metadata {
    name      = "colink-secrets"
    namespace = kubernetes_namespace.colink.metadata[0].name
  }
  data = {
    COLINK_AUTH__SECRET_KEY               = random_password.secret_key.result
    COLINK_DATABASE__URL                  = var.database_url
    COLINK_STORAGE__S3__ACCESS_KEY_ID     = var.s3_access_key.id
    COLINK_STORAGE__S3__SECRET_ACCESS_KEY = var.s3_access_key.secret
  }
}

resource "helm_release" "colink" {
  name      = "colink"
  namespace = kubernetes_namespace.colink.metadata[0].name
  chart     = var.chart_path
  values = [
    file("${var.chart_path}/values-cluster.yaml"),
    yamlencode({
      existingSecret = kubernetes_secret.colink.metadata[0].name
      ingress        = { host = var.domain }
      config         = <<-TOML
        [server]
        public_url = "https://${var.domain}"
        trusted_proxies = ["10.20.0.0/16"]

        [search]
        backend = "postgres"

        [storage]
        backend = "s3"

        [storage.s3]
        bucket = "${var.bucket}"
        region = "${var.region}"
        endpoint = "https://s3.${var.region}.amazonaws.com"
        path_style = false

        [kv]
        backend = "redis"
        url = "${var.redis_url}"

        [bus]
        backend = "kafka"
        brokers = ${jsonencode(var.kafka_brokers)}
        topic_prefix = "colink."
        # MSK's TLS listeners (bootstrap_brokers_tls): its certificates chain to Amazon's
        # public authorities, which the system's store holds.
        tls = true

        [cluster]
        enabled = true

        [[auth.oidc.providers]]
        name = "keycloak"
        issuer = "${var.oidc_issuer}"
        client_id = "colink-web"
        audience = "colink-api"
        roles_claim = "realm_access.roles"

        [telemetry]
        log_format = "json"
      TOML
    })
  ]
}
