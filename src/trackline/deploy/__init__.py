"""Deployment artefacts generated from the project's own definitions (Terraform from contracts)."""
