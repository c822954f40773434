# The warehouse: bronze holds one table per contract (contracts.tf, generated) and the run
# metadata (meta_* tables, created by trackline); dbt builds silver, gold and marts.
locals {
  layers = {
    bronze = "Tables written by trackline ingest, one per contract, append-only with ingestion_time and run_id."
    silver = "dbt: typed, deduplicated, conformed records."
    gold   = "dbt: the star schema (facts and dimensions)."
    marts  = "dbt: music marts read by the dashboard and analytics."
  }
}

resource "google_bigquery_dataset" "layer" {
  #checkov:skip=CKV_GCP_81:Encrypted with Google-managed keys; a customer-managed key (CMEK) is a per-organisation choice, set default_encryption_configuration here to use one.
  for_each = local.layers

  project                    = var.project_id
  dataset_id                 = each.key
  location                   = var.location
  description                = each.value
  delete_contents_on_destroy = !var.deletion_protection

  labels = {
    app   = "trackline"
    layer = each.key
  }
}

# Least privilege per dataset: the worker and the pipeline write bronze, the pipeline (dbt)
# writes the dbt layers, the dashboard only reads.
resource "google_bigquery_dataset_iam_member" "bronze_writers" {
  for_each = {
    worker   = google_service_account.worker.email
    pipeline = google_service_account.pipeline.email
  }

  project    = var.project_id
  dataset_id = google_bigquery_dataset.layer["bronze"].dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = "serviceAccount:${each.value}"
}

resource "google_bigquery_dataset_iam_member" "dbt_writer" {
  for_each = toset(["silver", "gold", "marts"])

  project    = var.project_id
  dataset_id = google_bigquery_dataset.layer[each.key].dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = "serviceAccount:${google_service_account.pipeline.email}"
}

resource "google_bigquery_dataset_iam_member" "dashboard_reader" {
  for_each = local.layers

  project    = var.project_id
  dataset_id = google_bigquery_dataset.layer[each.key].dataset_id
  role       = "roles/bigquery.dataViewer"
  member     = "serviceAccount:${google_service_account.dashboard.email}"
}
