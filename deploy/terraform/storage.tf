# The lake: raw/, curated/, rejected/, reports/, manifests/ under one bucket (docs/architecture.md).
locals {
  lake_bucket = coalesce(var.lake_bucket, "${var.project_id}-trackline-lake")
}

resource "google_storage_bucket" "lake" {
  #checkov:skip=CKV_GCP_62:Access is recorded by Cloud Audit Logs (Data Access logs for GCS); a second bucket of usage logs is left to the project's logging policy.
  name                        = local.lake_bucket
  project                     = var.project_id
  location                    = var.location
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection

  # Versioning keeps replaced manifests; the lifecycle below drops old versions everywhere else.
  versioning {
    enabled = true
  }

  # raw/ is read again only to replay a run: Nearline after 30 days.
  lifecycle_rule {
    condition {
      age            = var.raw_nearline_after_days
      matches_prefix = ["raw/"]
    }
    action {
      type          = "SetStorageClass"
      storage_class = "NEARLINE"
    }
  }

  # Noncurrent versions outside manifests/ are rewrites of the same run (same names): drop them.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 1
      with_state                 = "ARCHIVED"
      matches_prefix             = ["raw/", "curated/", "rejected/", "reports/"]
    }
    action {
      type = "Delete"
    }
  }

  # Manifests: every version kept for a year after it was replaced.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.manifest_versions_days
      with_state                 = "ARCHIVED"
      matches_prefix             = ["manifests/"]
    }
    action {
      type = "Delete"
    }
  }
}
