variable "project_id" {
  description = "The GCP project to deploy into."
  type        = string
}

variable "region" {
  description = "Region of Cloud Run, Pub/Sub push and Artifact Registry."
  type        = string
  default     = "europe-west1"
}

variable "location" {
  description = "Multi-region or region of the lake bucket and the BigQuery datasets."
  type        = string
  default     = "EU"
}

variable "firestore_location" {
  description = "Location of the Firestore database (the state store)."
  type        = string
  default     = "eur3"
}

variable "lake_bucket" {
  description = "Name of the lake bucket (globally unique); default <project>-trackline-lake."
  type        = string
  default     = null
}

variable "image" {
  description = "The trackline image (Dockerfile), e.g. REGION-docker.pkg.dev/PROJECT/trackline/trackline:TAG."
  type        = string
}

variable "raw_nearline_after_days" {
  description = "Raw landings move to Nearline storage after this many days."
  type        = number
  default     = 30
}

variable "manifest_versions_days" {
  description = "Replaced or deleted manifests are kept this many days (noncurrent versions)."
  type        = number
  default     = 365
}

variable "session_timeout_seconds" {
  description = "Longest session a push delivery may run: Cloud Run's request timeout and the subscription's ack deadline (Pub/Sub allows at most 600)."
  type        = number
  default     = 600

  validation {
    condition     = var.session_timeout_seconds >= 10 && var.session_timeout_seconds <= 600
    error_message = "A push subscription's ack deadline is 10 to 600 seconds: longer sessions need the pull worker (trackline worker)."
  }
}

variable "worker_concurrency" {
  description = "Sessions one worker instance runs at once (one: a session uses the instance's CPU and a DuckDB writer)."
  type        = number
  default     = 1
}

variable "worker_max_instances" {
  description = "Most worker instances Cloud Run starts."
  type        = number
  default     = 5
}

variable "worker_audience" {
  description = "Audience of the push subscription's OIDC tokens, checked by Cloud Run and by the worker."
  type        = string
  default     = "trackline-worker"
}

variable "max_delivery_attempts" {
  description = "Deliveries of a message before Pub/Sub moves it to the dead-letter topic."
  type        = number
  default     = 5
}

variable "dashboard_invokers" {
  description = "Members allowed to call the dashboard through Cloud Run IAM, e.g. [\"group:data@example.com\"]."
  type        = list(string)
  default     = []
}

variable "deletion_protection" {
  description = "Refuse to destroy BigQuery tables, the Firestore database and the lake bucket's contents."
  type        = bool
  default     = true
}

variable "spotify_client_id" {
  description = "Spotify app client id (not a secret); its secret goes in Secret Manager."
  type        = string
  default     = null
}

variable "youtube_client_id" {
  description = "Google OAuth client id for YouTube (not a secret)."
  type        = string
  default     = null
}
