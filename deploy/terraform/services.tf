# APIs an empty project needs, and the registry the image is pushed to (docs/deploy.md step 1).
resource "google_project_service" "api" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "cloudbuild.googleapis.com",
    "dataflow.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ])

  project            = var.project_id
  service            = each.key
  disable_on_destroy = false
}

resource "google_artifact_registry_repository" "images" {
  #checkov:skip=CKV_GCP_84:Images are encrypted with Google-managed keys; set kms_key_name for a customer-managed key.
  project       = var.project_id
  location      = var.region
  repository_id = "trackline"
  format        = "DOCKER"
  description   = "trackline images (worker, dashboard, Dataflow Flex Template)"

  depends_on = [google_project_service.api]
}
