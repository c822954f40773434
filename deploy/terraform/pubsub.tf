# The bus (trackline's pubsub:// backend): a topic per stream, `<topic>.dlq` beside it, and the
# subscriptions trackline reads: `<topic>.<group>` (see src/trackline/bus/pubsub.py).
locals {
  topics = toset(["events", "sessions", "cdc.carts"])
  # pull subscriptions of the stream processor (`trackline stream`, group trackline-stream)
  stream_topics = toset(["events", "cdc.carts"])
  pubsub_agent  = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic" "topic" {
  #checkov:skip=CKV_GCP_83:Messages are encrypted with Google-managed keys; set kms_key_name for a customer-managed key.
  for_each = local.topics

  project                    = var.project_id
  name                       = each.key
  message_retention_duration = "86400s"
}

resource "google_pubsub_topic" "dead_letter" {
  #checkov:skip=CKV_GCP_83:Messages are encrypted with Google-managed keys; set kms_key_name for a customer-managed key.
  for_each = local.topics

  project = var.project_id
  name    = "${each.key}.dlq"
}

# Dead letters are kept where a person can read them (a topic alone keeps nothing).
resource "google_pubsub_subscription" "dead_letter" {
  for_each = local.topics

  project                    = var.project_id
  name                       = "${each.key}.dlq.inspect"
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  message_retention_duration = "604800s"
  ack_deadline_seconds       = 60

  expiration_policy {
    ttl = ""
  }
}

# Stream: pulled by `trackline stream` in micro-batches, ordered by partition key.
resource "google_pubsub_subscription" "stream" {
  for_each = local.stream_topics

  project                 = var.project_id
  name                    = "${each.key}.trackline-stream"
  topic                   = google_pubsub_topic.topic[each.key].id
  ack_deadline_seconds    = 60
  enable_message_ordering = true

  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.key].id
    max_delivery_attempts = var.max_delivery_attempts
  }
}

# Sessions: pushed to the worker on Cloud Run with an OIDC token of the push service account.
# The ack deadline covers a whole session (the worker answers when the session is over).
resource "google_pubsub_subscription" "sessions_push" {
  project              = var.project_id
  name                 = "sessions.push"
  topic                = google_pubsub_topic.topic["sessions"].id
  ack_deadline_seconds = var.session_timeout_seconds

  push_config {
    push_endpoint = "${google_cloud_run_v2_service.worker.uri}/pubsub/push"

    oidc_token {
      service_account_email = google_service_account.push.email
      audience              = var.worker_audience
    }
  }

  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter["sessions"].id
    max_delivery_attempts = var.max_delivery_attempts
  }
}

# Pub/Sub's service agent forwards dead letters: it publishes to the .dlq topics and
# acknowledges on the source subscriptions.
resource "google_pubsub_topic_iam_member" "agent_dead_letter_publisher" {
  for_each = local.topics

  project = var.project_id
  topic   = google_pubsub_topic.dead_letter[each.key].name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "agent_stream_subscriber" {
  for_each = local.stream_topics

  project      = var.project_id
  subscription = google_pubsub_subscription.stream[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "agent_sessions_subscriber" {
  project      = var.project_id
  subscription = google_pubsub_subscription.sessions_push.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

# Who publishes and pulls: `trackline sessions create` / `trackline trigger` publish
# sessions, `trackline stream` pulls events. trackline's bus creates its topics and
# subscriptions on first use (Pub/Sub answers "already exists" only to a caller allowed to
# create), so the pipeline account is a Pub/Sub editor of the project. The worker needs no
# Pub/Sub role: deliveries are pushed to it.
resource "google_project_iam_member" "pipeline_pubsub" {
  project = var.project_id
  role    = "roles/pubsub.editor"
  member  = "serviceAccount:${google_service_account.pipeline.email}"
}
