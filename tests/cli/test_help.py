"""Help texts name what the library accepts, though the CLI does not import it to say so."""

from __future__ import annotations

from trackline.auth import oauth
from trackline.cdc import poller
from trackline.cli import auth, cdc, fetch
from trackline.pipelines import fetch as fetch_pipeline


def test_auth_help_names_every_oauth_provider() -> None:
    assert auth.PROVIDERS == oauth.PROVIDERS


def test_fetch_help_names_every_connector() -> None:
    assert tuple(fetch_pipeline.CONNECTORS) == fetch.CONNECTORS


def test_cdc_default_topic_is_the_pollers() -> None:
    assert cdc.DEFAULT_TOPIC == poller.DEFAULT_TOPIC
