output "lake_uri" {
  description = "TRACKLINE_LAKE_URI for every trackline process."
  value       = "gs://${google_storage_bucket.lake.name}"
}

output "warehouse_uri" {
  description = "TRACKLINE_WAREHOUSE_URI (the bronze dataset); dbt's bigquery target builds the other layers."
  value       = "bigquery://${var.project_id}/${google_bigquery_dataset.layer["bronze"].dataset_id}"
}

output "datasets" {
  description = "BigQuery dataset per layer."
  value       = { for k, d in google_bigquery_dataset.layer : k => d.dataset_id }
}

output "contract_tables" {
  description = "Bronze table per contract (contracts.tf, generated from the contracts)."
  value       = local.contract_tables
}

output "topics" {
  description = "Pub/Sub topics and their dead-letter topics."
  value = {
    for k, t in google_pubsub_topic.topic : k => {
      topic       = t.name
      dead_letter = google_pubsub_topic.dead_letter[k].name
    }
  }
}

output "worker_url" {
  description = "The worker's Cloud Run URL (internal ingress: reached by Pub/Sub push)."
  value       = google_cloud_run_v2_service.worker.uri
}

output "dashboard_url" {
  description = "The dashboard's Cloud Run URL (members of dashboard_invokers only)."
  value       = google_cloud_run_v2_service.dashboard.uri
}

output "service_accounts" {
  description = "Service account per role."
  value = {
    worker    = google_service_account.worker.email
    dashboard = google_service_account.dashboard.email
    push      = google_service_account.push.email
    pipeline  = google_service_account.pipeline.email
  }
}

output "image_repository" {
  description = "Where to push the image: REGION-docker.pkg.dev/PROJECT/trackline."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
}
