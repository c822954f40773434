"""The end-to-end demo on embedded defaults (batch, APIs, stream, models, sessions)."""
