"""`--config`, `TRACKLINE_CONFIG` and `trackline config show` through the real command."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import CLI

EVIL = "https://accounts.evil.example"
SECRETS = ("hunter2-db-pass", "sp-client-secret-zz", "yt-client-secret-zz", "worker-token-zz")


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_planted_file_in_working_directory_is_ignored_with_one_line(
    cli: CLI, tmp_path: Path
) -> None:
    write(tmp_path / "trackline.toml", f'spotify_accounts_url = "{EVIL}"\n', 0o666)
    r = cli("config", "show", "--json")
    assert r.code == 0, r.err
    entry = r.json()["settings"]["spotify_accounts_url"]
    assert entry == {"value": "https://accounts.spotify.com", "source": "default", "from": None}
    assert r.json()["config_file"] == {"path": None, "found_by": None}
    [line] = [x for x in r.err.splitlines() if "trackline.toml" in x]
    assert "ignoring" in line and "writable by group or others" in line and "--config" in line


def test_own_private_file_is_used_and_shown_with_its_path(cli: CLI, tmp_path: Path) -> None:
    config = write(tmp_path / "trackline.toml", f'spotify_accounts_url = "{EVIL}"\n')
    r = cli("config", "show", "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["config_file"] == {"path": str(config), "found_by": "working directory"}
    entry = doc["settings"]["spotify_accounts_url"]
    assert entry == {"value": EVIL, "source": "file", "from": str(config)}
    r = cli("config", "show")
    assert r.code == 0 and EVIL in r.out and f"file {config}" in r.out


def test_config_flag_and_env_var(cli: CLI, tmp_path: Path) -> None:
    named = write(tmp_path / "named.toml", "slice_min_n = 3\n", 0o644)
    r = cli("--config", str(named), "config", "show", "--json")
    assert r.code == 0, r.err
    assert r.json()["config_file"] == {"path": str(named), "found_by": "--config"}
    assert r.json()["settings"]["slice_min_n"]["value"] == 3
    r = cli("config", "show", "--json", extra_env={"TRACKLINE_CONFIG": str(named)})
    assert r.json()["config_file"]["found_by"] == "TRACKLINE_CONFIG"
    r = cli("config", "show", "--json", extra_env={"TRACKLINE_SLICE_MIN_N": "4"})
    assert r.json()["settings"]["slice_min_n"] == {
        "value": 4,
        "source": "env",
        "from": "TRACKLINE_SLICE_MIN_N",
    }
    r = cli("--home", str(tmp_path / "h2"), "config", "show", "--json")
    assert r.json()["settings"]["home"]["source"] == "flag"
    r = cli("--config", str(tmp_path / "missing.toml"), "config", "show")
    assert r.code == 2 and r.err.count("\n") == 1 and "does not exist" in r.err
    assert "Traceback" not in r.err


def test_config_show_masks_every_secret(cli: CLI, tmp_path: Path) -> None:
    db, sp, yt, worker = SECRETS
    config = write(
        tmp_path / "c.toml",
        f'state_uri = "postgresql://trackline:{db}@db.internal/app?sslmode=require"\n'
        f'spotify_client_secret = "{sp}"\n'
        f'youtube_client_secret = "{yt}"\n'
        f'bus_uri = "redis://:{db}@cache.internal:6379/0"\n'
        f'serving_uri = "postgresql://db.internal/s?password={db}"\n',
    )
    key = "k" * 43 + "="
    env = {"TRACKLINE_WORKER_TOKEN": worker, "TRACKLINE_SECRET_KEY": key}
    r = cli("--config", str(config), "config", "show", "--json", extra_env=env)
    assert r.code == 0, r.err
    doc = json.loads(r.out)  # exactly one JSON document
    for secret in (*SECRETS, key):
        assert secret not in r.out and secret not in r.err
    values = {name: s["value"] for name, s in doc["settings"].items()}
    assert values["spotify_client_secret"] == values["worker_token"] == values["secret_key"]
    assert values["youtube_client_secret"] == values["secret_key"] != key
    assert values["state_uri"].endswith("@db.internal/app?sslmode=require")
    assert doc["settings"]["worker_token"]["source"] == "env"
    assert doc["resolved"]["state"] == values["state_uri"]
    assert doc["resolved"]["bus"].endswith("@cache.internal:6379/0")
    # The API base URLs a token would be sent to are in the document.
    for name in ("spotify_api_url", "spotify_accounts_url", "youtube_api_url", "youtube_token_url"):
        assert values[name].startswith("https://")
    r = cli("--config", str(config), "config", "show", extra_env=env)
    assert r.code == 0, r.err
    for secret in (*SECRETS, key):
        assert secret not in r.out and secret not in r.err
