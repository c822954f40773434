"""Sessions: create and announce them, trigger and pull them, run them for each member."""

from trackline.sessions.lifecycle import create_session, on_session_created

__all__ = ["create_session", "on_session_created"]
