# Secrets the services read as environment variables. Terraform creates the secrets, never
# their values: add each value once with
#   printf %s "$VALUE" | gcloud secrets versions add NAME --data-file=-
locals {
  secrets = {
    "trackline-secret-key"            = ["worker", "pipeline"] # Fernet key of the refresh tokens
    "trackline-spotify-client-secret" = ["worker", "pipeline"]
    "trackline-youtube-client-secret" = ["worker", "pipeline"]
    "trackline-dashboard-token"       = ["dashboard"]
  }
  accounts = {
    worker    = google_service_account.worker.email
    dashboard = google_service_account.dashboard.email
    pipeline  = google_service_account.pipeline.email
  }
  secret_access = merge([
    for name, readers in local.secrets : {
      for r in readers : "${name}/${r}" => { secret = name, sa = local.accounts[r] }
    }
  ]...)
}

resource "google_secret_manager_secret" "app" {
  #checkov:skip=CKV_GCP_128:Secrets are encrypted with Google-managed keys; a customer-managed key is a per-organisation choice.
  for_each = local.secrets

  project   = var.project_id
  secret_id = each.key

  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_iam_member" "readers" {
  for_each = local.secret_access

  project   = var.project_id
  secret_id = google_secret_manager_secret.app[each.value.secret].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${each.value.sa}"
}
