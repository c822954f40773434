"""Kept for imports: the redaction lives in `trackline.redact` (one for the whole tool)."""

from trackline.redact import (
    MASK,
    SECRET_HEADERS,
    SECRET_KEYS,
    SECRETS,
    RedactingFilter,
    install_log_filter,
    redact,
    redact_all,
    redact_headers,
    redact_url,
    register_secret,
)

__all__ = [
    "MASK",
    "SECRETS",
    "SECRET_HEADERS",
    "SECRET_KEYS",
    "RedactingFilter",
    "install_log_filter",
    "redact",
    "redact_all",
    "redact_headers",
    "redact_url",
    "register_secret",
]
