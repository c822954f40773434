# One service account per role, each with only what it does (docs/deploy.md):
#   worker    Cloud Run worker: runs sessions (state, lake, bronze, its secrets)
#   dashboard Cloud Run dashboard: reads the warehouse, the lake and the state
#   push      signs the OIDC tokens of the sessions push subscription; may invoke the worker
#   pipeline  stream, dbt, Dataflow jobs, sessions create and trigger
resource "google_service_account" "worker" {
  project      = var.project_id
  account_id   = "trackline-worker"
  display_name = "trackline worker (Cloud Run)"
}

resource "google_service_account" "dashboard" {
  project      = var.project_id
  account_id   = "trackline-dashboard"
  display_name = "trackline dashboard (Cloud Run)"
}

resource "google_service_account" "push" {
  project      = var.project_id
  account_id   = "trackline-push"
  display_name = "trackline Pub/Sub push identity"
}

resource "google_service_account" "pipeline" {
  project      = var.project_id
  account_id   = "trackline-pipeline"
  display_name = "trackline stream, dbt and Dataflow jobs"
}

# Project-level roles that have no narrower resource to bind to.
locals {
  project_roles = {
    worker_jobs     = { sa = google_service_account.worker.email, role = "roles/bigquery.jobUser" }
    worker_state    = { sa = google_service_account.worker.email, role = "roles/datastore.user" }
    dashboard_jobs  = { sa = google_service_account.dashboard.email, role = "roles/bigquery.jobUser" }
    dashboard_state = { sa = google_service_account.dashboard.email, role = "roles/datastore.viewer" }
    pipeline_jobs   = { sa = google_service_account.pipeline.email, role = "roles/bigquery.jobUser" }
    pipeline_state  = { sa = google_service_account.pipeline.email, role = "roles/datastore.user" }
    # Dataflow workers run as the pipeline account; the person (or CI) who launches a job
    # holds roles/dataflow.developer and actAs on it, not the account itself.
    pipeline_dataflow = { sa = google_service_account.pipeline.email, role = "roles/dataflow.worker" }
  }
}

resource "google_project_iam_member" "roles" {
  for_each = local.project_roles

  project = var.project_id
  role    = each.value.role
  member  = "serviceAccount:${each.value.sa}"
}

# The lake: the writers may create and replace objects, the dashboard only reads.
resource "google_storage_bucket_iam_member" "lake_writers" {
  for_each = {
    worker   = google_service_account.worker.email
    pipeline = google_service_account.pipeline.email
  }

  bucket = google_storage_bucket.lake.name
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${each.value}"
}

resource "google_storage_bucket_iam_member" "lake_reader" {
  bucket = google_storage_bucket.lake.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.dashboard.email}"
}

# Only the push identity may call the worker.
resource "google_cloud_run_v2_service_iam_member" "push_invokes_worker" {
  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.worker.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.push.email}"
}

# Pub/Sub's service agent mints the push subscription's OIDC tokens as the push identity.
resource "google_service_account_iam_member" "agent_signs_as_push" {
  service_account_id = google_service_account.push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

resource "google_cloud_run_v2_service_iam_member" "dashboard_invokers" {
  for_each = toset(var.dashboard_invokers)

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.dashboard.name
  role     = "roles/run.invoker"
  member   = each.value
}
