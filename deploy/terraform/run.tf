# Cloud Run: the worker (Pub/Sub push endpoint) and the dashboard, both from the one image.
locals {
  common_env = {
    TRACKLINE_HOME          = "/tmp/trackline" # scratch (in memory); the data lives in GCP
    TRACKLINE_STATE_URI     = "firestore://${var.project_id}"
    TRACKLINE_LAKE_URI      = "gs://${google_storage_bucket.lake.name}"
    TRACKLINE_WAREHOUSE_URI = "bigquery://${var.project_id}/${google_bigquery_dataset.layer["bronze"].dataset_id}"
    TRACKLINE_BUS_URI       = "pubsub://${var.project_id}"
  }
  worker_env = merge(local.common_env, {
    TRACKLINE_WORKER_AUTH          = "oidc"
    TRACKLINE_WORKER_OIDC_AUDIENCE = var.worker_audience
    TRACKLINE_WORKER_OIDC_EMAIL    = google_service_account.push.email
  })
  worker_secrets = {
    TRACKLINE_SECRET_KEY            = "trackline-secret-key"
    TRACKLINE_SPOTIFY_CLIENT_SECRET = "trackline-spotify-client-secret"
    TRACKLINE_YOUTUBE_CLIENT_SECRET = "trackline-youtube-client-secret"
  }
  client_ids = {
    for k, v in {
      TRACKLINE_SPOTIFY_CLIENT_ID = var.spotify_client_id
      TRACKLINE_YOUTUBE_CLIENT_ID = var.youtube_client_id
    } : k => v if v != null
  }
}

resource "google_cloud_run_v2_service" "worker" {
  project  = var.project_id
  name     = "trackline-worker"
  location = var.region
  # Pub/Sub push counts as internal traffic: nothing on the internet reaches the worker.
  ingress             = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  custom_audiences    = [var.worker_audience]
  deletion_protection = var.deletion_protection

  template {
    service_account = google_service_account.worker.email
    # A push delivery runs its whole session before it is answered.
    timeout                          = "${var.session_timeout_seconds}s"
    max_instance_request_concurrency = var.worker_concurrency

    scaling {
      min_instance_count = 0
      max_instance_count = var.worker_max_instances
    }

    containers {
      image = var.image
      args  = ["serve", "worker", "--host", "0.0.0.0"] # port: $PORT

      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = "2"
          memory = "2Gi"
        }
      }

      dynamic "env" {
        for_each = merge(local.worker_env, local.client_ids)
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = local.worker_secrets
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = google_secret_manager_secret.app[env.value].secret_id
              version = "latest"
            }
          }
        }
      }

      # /healthz: 200 when the state store answers, 503 when not.
      startup_probe {
        initial_delay_seconds = 2
        period_seconds        = 5
        failure_threshold     = 12
        timeout_seconds       = 3
        http_get {
          path = "/healthz"
        }
      }

      liveness_probe {
        period_seconds    = 30
        failure_threshold = 3
        timeout_seconds   = 5
        http_get {
          path = "/healthz"
        }
      }
    }
  }

  depends_on = [google_secret_manager_secret_iam_member.readers]
}

resource "google_cloud_run_v2_service" "dashboard" {
  project  = var.project_id
  name     = "trackline-dashboard"
  location = var.region
  # Reachable, but only by the members of var.dashboard_invokers (Cloud Run IAM), who also
  # need the dashboard token.
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = var.deletion_protection

  template {
    service_account                  = google_service_account.dashboard.email
    timeout                          = "60s"
    max_instance_request_concurrency = 40

    scaling {
      min_instance_count = 0
      max_instance_count = 2
    }

    containers {
      image = var.image
      args  = ["serve", "dashboard", "--host", "0.0.0.0", "--port", "8050"]

      ports {
        container_port = 8050
      }

      resources {
        limits = {
          cpu    = "1"
          memory = "1Gi"
        }
      }

      dynamic "env" {
        for_each = local.common_env
        content {
          name  = env.key
          value = env.value
        }
      }

      env {
        name = "TRACKLINE_DASHBOARD_TOKEN"
        value_source {
          secret_key_ref {
            secret  = google_secret_manager_secret.app["trackline-dashboard-token"].secret_id
            version = "latest"
          }
        }
      }

      startup_probe {
        period_seconds    = 5
        failure_threshold = 12
        tcp_socket {
          port = 8050
        }
      }
    }
  }

  depends_on = [google_secret_manager_secret_iam_member.readers]
}
