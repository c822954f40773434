"""One redaction for every URL, connection string, log line and error (issue #24, point 3).

The same table runs through every name the redaction goes by (the core function and the
bus, serving and state aliases), so none of them can drift from the others again.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.services import require
from trackline.bus import base as bus_base
from trackline.cli.common import setup_logging
from trackline.config import Settings
from trackline.core.http import redact_url
from trackline.errors import TracklineError
from trackline.redact import RedactingFilter, redact, register_secret
from trackline.serving import base as serving_base
from trackline.state import StateError, open_state, redact_uri

TABLE = [
    # userinfo: the password goes, a database role name stays, a lone token goes
    ("postgresql://u:s3cret@h:5/db", "postgresql://u:***@h:5/db"),
    ("postgresql://u@h/db", "postgresql://u@h/db"),
    ("redis://:s3cret@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
    ("redis://u:pw@h:1/0", "redis://u:***@h:1/0"),
    ("nats://tok@h:4222", "nats://***@h:4222"),
    ("redis://tok@h:6379/0", "redis://***@h:6379/0"),
    ("https://ghp_abcdef@github.com/o/r.git", "https://***@github.com/o/r.git"),
    # an unescaped / in the password cuts the authority short: still masked
    ("postgresql://u:pa/ss@h:5432/db", "postgresql://u:***@h:5432/db"),
    # secret query parameters, in any scheme; the others kept byte for byte
    (
        "postgresql://u@127.0.0.1:1/x?password=secretpw&sslmode=disable",
        "postgresql://u@127.0.0.1:1/x?password=***&sslmode=disable",
    ),
    ("kafka://h:1?sasl_password=x&token=y", "kafka://h:1?sasl_password=***&token=***"),
    (
        "https://api.example.com/x?access_token=abc123&limit=5&client_secret=s3cr3t!",
        "https://api.example.com/x?access_token=***&limit=5&client_secret=***",
    ),
    (
        "https://www.googleapis.com/youtube/v3/x?key=AIzaSy0&part=snippet&pageToken=CAUQAA",
        "https://www.googleapis.com/youtube/v3/x?key=***&part=snippet&pageToken=CAUQAA",
    ),
    (
        "https://h/cb?code=4%2F0Ab&state=xyz&scope=a%20b",
        "https://h/cb?code=***&state=***&scope=a%20b",
    ),
    ("https://s3/b/o?X-Amz-Signature=abc&x=1", "https://s3/b/o?X-Amz-Signature=***&x=1"),
    (
        "https://h/cb#access_token=abc&token_type=bearer",
        "https://h/cb#access_token=***&token_type=bearer",
    ),
    ("https://h:443/p?email=a@b.com", "https://h:443/p?email=a@b.com"),
    ("log:///var/bus.db", "log:///var/bus.db"),
    ("sqlite:///rel/state.db", "sqlite:///rel/state.db"),
    # libpq key=value connection strings
    ("host=db user=app password=hunter2 dbname=x", "host=db user=app password=*** dbname=x"),
    ("host=db password='a b c' dbname=x", "host=db password=*** dbname=x"),
    # a form body is a query string: every secret name masked
    (
        "grant_type=refresh_token&refresh_token=r1&code=abc&client_id=x",
        "grant_type=refresh_token&refresh_token=***&code=***&client_id=x",
    ),
    # a URL inside a message (a masked value takes punctuation after it along), a JSON body
    (
        "cannot connect to redis://u:pw@h:1/0?password=p2: refused",
        "cannot connect to redis://u:***@h:1/0?password=*** refused",
    ),
    ("at nats://h:4222: refused", "at nats://h:4222: refused"),
    ('{"access_token": "abc", "expires_in": 3600}', '{"access_token": "***", "expires_in": 3600}'),
    ("Authorization: Bearer eyJhbGciOi.J9.xyz", "Authorization: Bearer ***"),
    # prose: `key=`, `code=`, `sig=` are ordinary words outside a query string
    (
        "cart.updated key=cart_3 code=200 sig=v2 tokens=3 token_count=2",
        "cart.updated key=cart_3 code=200 sig=v2 tokens=3 token_count=2",
    ),
    (
        "fetch.failed user=alice token=abc123 password=hunter2",
        "fetch.failed user=alice token=*** password=***",
    ),
]

REDACTIONS: dict[str, Callable[[str], str]] = {
    "redact": redact,
    "core.http.redact_url": redact_url,
    "bus.redact": bus_base.redact,
    "serving.redact": serving_base.redact,
    "state.redact_uri": redact_uri,
}


@pytest.mark.parametrize("name", REDACTIONS)
@pytest.mark.parametrize(("text", "shown"), TABLE)
def test_every_redaction_masks_alike(name: str, text: str, shown: str) -> None:
    assert REDACTIONS[name](text) == shown


def test_registered_secrets_are_masked_anywhere() -> None:
    register_secret("rt-9f8e7d6c5b4a")
    assert (
        redact("refresh failed near rt-9f8e7d6c5b4a, retrying")
        == "refresh failed near ***, retrying"
    )
    assert "rt-9f8e7d6c5b4a" not in str(TracklineError("bad token rt-9f8e7d6c5b4a"))


@pytest.fixture
def cli_logger() -> Iterator[io.StringIO]:
    """The CLI's own logging set-up (its handler and filters), writing to a buffer."""
    logger = logging.getLogger("trackline")
    saved = logger.handlers[:], logger.level, logger.propagate
    buf = io.StringIO()
    stderr, sys.stderr = sys.stderr, buf
    try:
        setup_logging(debug=False, quiet=False)
    finally:
        sys.stderr = stderr
    try:
        yield buf
    finally:
        logger.handlers[:] = saved[0]
        logger.setLevel(saved[1])
        logger.propagate = saved[2]


def test_a_log_line_through_the_cli_filter_keeps_no_secret(cli_logger: io.StringIO) -> None:
    log = logging.getLogger("trackline.test")
    log.info("state.open uri=%s", "postgresql://u@h:5/db?password=secretpw&sslmode=require")
    log.info("bus.open uri=%s", "redis://:secretpw@h:6379/0")
    log.info("cart.updated key=%s rows=%d", "cart_3", 2)
    text = cli_logger.getvalue()
    assert "secretpw" not in text
    assert "password=***&sslmode=require" in text and "redis://:***@h:6379/0" in text
    assert "key=cart_3 rows=2" in text


def test_a_logged_traceback_is_redacted() -> None:
    logger = logging.getLogger("trackline.test.tb")
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    try:
        try:
            raise ConnectionError("cannot reach nats://s3cr3ttok@h:4222")
        except ConnectionError:
            logger.exception("bus.failed")
    finally:
        logger.removeHandler(handler)
    assert "s3cr3ttok" not in buf.getvalue() and "nats://***@h:4222" in buf.getvalue()


def test_a_failing_state_connection_names_no_password(tmp_path: Path) -> None:
    for uri in (
        "postgresql://u:secretpw@127.0.0.1:1/x",
        "postgresql://u@127.0.0.1:1/x?password=secretpw&sslmode=disable",
    ):
        settings = Settings.load(home=tmp_path, state_uri=uri)
        with pytest.raises(StateError, match="cannot connect") as exc:
            open_state(settings)
        assert "secretpw" not in str(exc.value)
        assert "127.0.0.1:1/x" in str(exc.value)


def _cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "TRACKLINE_HOME": str(tmp_path / "home"), **env}
    return subprocess.run(
        [sys.executable, "-m", "trackline", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=full,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (
            ("users", "list", "--json"),
            {"TRACKLINE_STATE_URI": "postgresql://u@127.0.0.1:1/x?password=secretpw"},
        ),
        (
            ("publish", "--count", "1", "--bus", "redis://u:secretpw@127.0.0.1:1/0", "--json"),
            {"TRACKLINE_BUS_RETRY_SECONDS": "0"},
        ),
    ],
    ids=["state-query-password", "redis-userinfo"],
)
def test_the_cli_error_and_json_output_name_no_secret(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str]
) -> None:
    done = _cli(tmp_path, *args, **env)
    assert done.returncode == 1, done.stderr
    assert "secretpw" not in done.stdout + done.stderr
    assert "127.0.0.1:1" in done.stdout + done.stderr  # the message still says where


def test_a_json_summary_names_the_bus_without_its_password(tmp_path: Path) -> None:
    url = require("redis")  # a server without a password accepts any for the default user
    host = url.split("://", 1)[1].split("/", 1)[0]
    topic = f"redact-{os.getpid()}"
    bus = f"redis://default:secretpw@{host}/15"
    done = _cli(tmp_path, "publish", "--count", "1", "--bus", bus, "--topic", topic, "--json")
    try:
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert summary["bus"] == f"redis://default:***@{host}/15"
        assert "secretpw" not in done.stdout + done.stderr
    finally:
        import redis

        client = redis.Redis.from_url(f"redis://{host}/15")
        keys = list(client.scan_iter(f"*{topic}*"))
        if keys:
            client.delete(*keys)
        client.close()
