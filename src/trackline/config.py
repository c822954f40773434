"""One typed place for configuration: defaults < trackline.toml < TRACKLINE_* environment < flags.

`Settings.load(home=..., config=...)` is the only constructor the rest of the code uses; nothing
patches a global. Which trackline.toml is read (and when one is ignored) is config_file.py's
business. Paths that are not set explicitly are derived from `home`.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from trackline.config_file import CONFIG_FILE, DEFAULT_HOME, Origins, find_config, known_values
from trackline.errors import ConfigError

__all__ = ["CONFIG_FILE", "DEFAULT_HOME", "Origins", "Settings", "env_flag"]


class Settings(BaseSettings):
    """Runtime configuration. Every field can be set in trackline.toml or as TRACKLINE_<NAME>."""

    model_config = SettingsConfigDict(
        env_prefix="TRACKLINE_",
        extra="ignore",
    )

    home: Path = Field(default=Path(DEFAULT_HOME), description="Where lake, warehouse, state live")
    lake_uri: str | None = Field(
        default=None,
        description="fsspec URI of the lake root (local path, memory://, gs://, s3://)",
    )
    warehouse_path: Path | None = Field(default=None, description="DuckDB warehouse file")
    warehouse_uri: str | None = Field(
        default=None,
        description="Warehouse: duckdb:///PATH (default: warehouse_path, else "
        "<home>/warehouse.duckdb) or bigquery://PROJECT/DATASET (docs/warehouse.md)",
    )
    bigquery_endpoint: str | None = Field(
        default=None,
        description="BigQuery API endpoint of an emulator (e.g. http://127.0.0.1:9050): "
        "anonymous credentials, nothing tries to reach Google",
    )
    bigquery_location: str | None = Field(
        default=None, description="BigQuery location of new datasets and jobs (e.g. EU)"
    )
    bigquery_storage_endpoint: str | None = Field(
        default=None,
        description="host:port of the BigQuery Storage API's gRPC endpoint of an emulator "
        "(e.g. 127.0.0.1:9060): plain gRPC, anonymous credentials; unset = Google's",
    )
    contracts_dir: Path | None = Field(default=None, description="Folder of user contract YAMLs")
    state_uri: str | None = Field(
        default=None,
        description="State store URI: sqlite:///PATH (default <home>/state.db), "
        "postgresql://..., firestore://PROJECT[/DATABASE]",
    )
    state_retry_seconds: float = Field(
        default=20.0, ge=0, description="How long Firestore state calls retry while it is away"
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Fernet key(s) encrypting refresh tokens at rest, comma-separated to rotate "
        "(default: <home>/secret.key, created with mode 0600)",
    )
    batch_rows: int = Field(default=65_536, ge=1, description="Rows per batch read from inputs")
    duckdb_memory_limit: str = Field(
        default="512MB", description="DuckDB memory limit per database (spills to disk past it)"
    )
    duckdb_threads: int | None = Field(default=None, ge=1, description="DuckDB threads (all cores)")
    hugepages: Literal["off", "system"] = Field(
        default="off",
        description="off: batch runs opt their process out of transparent huge pages (Linux; "
        "about 10% faster where the system says 'always'); system: leave the system's setting",
    )
    ndjson_fast_read: bool = Field(
        default=True,
        description="Let DuckDB parse plain local NDJSON files itself when they read the same "
        "(no blank lines, no BOM; see trackline/sources/readers/ndjson_fast.py); false: always the "
        "general reader",
    )
    future_tolerance_seconds: int = Field(
        default=300, ge=0, description="Clock skew allowed before a time counts as in the future"
    )
    serving_uri: str | None = Field(
        default=None,
        description="Serving store URI: sqlite:///path (default under home), redis://..., "
        "bigtable://project/instance",
    )
    min_play_ms: int = Field(
        default=30000,
        ge=0,
        description="A listen shorter than this (ms_played) is kept but is not a play in top "
        "tracks, group analytics or recommendations (Spotify's own 30 s rule)",
    )
    slice_min_n: int = Field(default=30, ge=1, description="Slices with fewer rows are flagged")
    slice_min_share: float = Field(
        default=0.5,
        gt=0,
        description="A slice value is under-represented when its share is below this fraction "
        "of an even share (1 / number of values)",
    )

    # API connectors (docs/connectors.md). Base URLs are configuration so the fake APIs and
    # proxies plug in; client secrets are SecretStr (masked when settings are printed).
    spotify_api_url: str = Field(default="https://api.spotify.com/v1")
    spotify_accounts_url: str = Field(default="https://accounts.spotify.com")
    spotify_client_id: str | None = Field(default=None, description="Spotify app client id")
    spotify_client_secret: SecretStr | None = Field(
        default=None, description="Optional with PKCE (confidential apps only)"
    )
    youtube_api_url: str = Field(default="https://www.googleapis.com/youtube/v3")
    youtube_accounts_url: str = Field(
        default="https://accounts.google.com/o/oauth2/v2", description="Google authorize base"
    )
    youtube_token_url: str = Field(default="https://oauth2.googleapis.com/token")
    youtube_client_id: str | None = Field(default=None, description="Google OAuth client id")
    youtube_client_secret: SecretStr | None = Field(default=None)
    youtube_daily_quota: int = Field(
        default=10_000, ge=1, description="YouTube Data API units a day; fetches stop before it"
    )
    fakestore_api_url: str = Field(default="https://fakestoreapi.com")
    oauth_redirect_port: int = Field(default=8765, ge=0, le=65535, description="Loopback port")
    http_timeout_seconds: float = Field(default=15.0, gt=0)
    http_max_attempts: int = Field(default=5, ge=1, description="Tries per request (1 = none)")
    http_backoff_seconds: float = Field(default=0.5, ge=0, description="First retry backoff")
    http_backoff_max_seconds: float = Field(default=30.0, ge=0)
    http_max_retry_after_seconds: float = Field(
        default=120.0, ge=0, description="A longer Retry-After fails the user's run instead"
    )
    http_max_concurrency: int = Field(
        default=8, ge=1, description="Requests in flight at once, across users and endpoints"
    )
    fetch_user_concurrency: int = Field(default=4, ge=1, description="Users fetched at once")
    bus_uri: str | None = Field(
        default=None,
        description="Event bus URI (log://, redis://, nats://, pubsub://, kafka://); "
        "default: the embedded log under the home",
    )
    bus_max_attempts: int = Field(
        default=5, ge=1, description="Deliveries before a message goes to <topic>.dlq"
    )
    bus_ack_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Unacked messages are delivered again after this"
    )
    bus_retry_seconds: float = Field(
        default=30.0, ge=0, description="How long bus calls retry while a server is away"
    )
    stream_batch_size: int = Field(default=50_000, ge=1, description="Stream micro-batch size")
    stream_batch_seconds: float = Field(
        default=0.5, gt=0, description="Longest wait to fill a stream micro-batch"
    )

    # Dashboard (docs/dashboard.md). The token is masked whenever settings are printed.
    dashboard_token: SecretStr | None = Field(
        default=None,
        description="Token the dashboard requires (needed to bind anything but 127.0.0.1)",
    )
    warehouse_read_wait_seconds: float = Field(
        default=10.0,
        ge=0,
        description="How long a process waits for the DuckDB warehouse file another one holds "
        "(a reader for a stream's micro-batch commit, a writer for a reader)",
    )

    # Session worker (docs/worker.md). The token authenticates push callers; it is masked
    # whenever settings are printed and never logged.
    worker_token: SecretStr | None = Field(
        default=None, description="Bearer token push callers must present (POST /pubsub/push)"
    )
    worker_auth: str = Field(
        default="token", description="How the push endpoint authenticates: token | oidc"
    )
    worker_oidc_audience: str | None = Field(
        default=None, description="Expected `aud` of Google OIDC push tokens (the push URL)"
    )
    worker_oidc_email: str | None = Field(
        default=None, description="Service account the push subscription signs tokens as"
    )
    worker_lease_seconds: float = Field(
        default=300.0, gt=0, description="A crashed worker's session is runnable after this"
    )
    worker_user_concurrency: int = Field(
        default=4, ge=1, description="Members of one session fetched at once"
    )
    worker_pipeline: str = Field(
        default="connectors",
        description="Per-user pipeline the worker runs (connectors | generated)",
    )
    trigger_after_seconds: float = Field(
        default=60.0, ge=0, description="`trackline trigger` re-announces sessions pending longer"
    )
    # Orchestration (docs/orchestrate.md): the quality gate of the Airflow DAG and Dagster checks.
    quality_max_rejected_share: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="A scheduled run fails its quality gate when a dataset's rejected rows "
        "are more than this share of its input",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file is not a source here: `load` finds the one trusted file and passes its
        # values in, so a bare `Settings()` never reads a file from the working directory.
        return (init_settings, env_settings)

    @classmethod
    def load(
        cls, home: Path | str | None = None, *, config: Path | str | None = None, **overrides: Any
    ) -> Settings:
        """Build settings; `home` (e.g. from --home) and overrides win over the environment,
        which wins over the config file (`config`: the --config flag; see config_file.py)."""
        return cls.load_explained(home, config=config, **overrides)[0]

    @classmethod
    def load_explained(
        cls, home: Path | str | None = None, *, config: Path | str | None = None, **overrides: Any
    ) -> tuple[Settings, Origins]:
        """`load`, and where each value came from (for `trackline config show`)."""
        flags = dict(overrides)
        if home is not None:
            flags["home"] = Path(home)
        file = find_config(config, home)
        env = EnvSettingsSource(cls)()
        origins = Origins(file, frozenset(env), frozenset(flags))
        values = {**known_values(file, set(cls.model_fields)), **env, **flags}
        try:
            return cls(**values), origins
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            if not loc:  # a check across settings names no one field
                raise ConfigError(f"invalid settings: {first['msg']}") from None
            raise ConfigError(
                f"invalid setting {loc!r}: {first['msg']}; it came from {origins.describe(loc)}"
            ) from None

    # Derived locations -------------------------------------------------------------------
    @property
    def lake(self) -> str:
        return self.lake_uri or str((self.home / "lake").absolute())

    @property
    def warehouse(self) -> Path:
        """The DuckDB warehouse file (also the BigQuery warehouse's local working copy's
        folder)."""
        uri = self.warehouse_uri or ""
        if uri.startswith("duckdb://"):
            return Path(uri.removeprefix("duckdb://"))
        return self.warehouse_path or self.home / "warehouse.duckdb"

    @property
    def warehouse_kind(self) -> str:
        """`duckdb` or `bigquery` (the scheme of `warehouse_uri`)."""
        uri = self.warehouse_uri or "duckdb://"
        scheme = uri.split("://", 1)[0] if "://" in uri else ""
        if scheme not in ("duckdb", "bigquery"):
            raise ConfigError(
                f"unknown warehouse URI {uri!r}: use duckdb:///PATH or bigquery://PROJECT/DATASET"
            )
        return scheme

    @property
    def state(self) -> str:
        """State store URI: `state_uri`, else a SQLite file under the home."""
        return self.state_uri or "sqlite:///" + str((self.home / "state.db").absolute())

    @property
    def serving(self) -> str:
        """Serving store URI: `serving_uri`, else a SQLite file under the home."""
        return self.serving_uri or f"sqlite:///{(self.home / 'serving.sqlite').absolute()}"

    @property
    def bus(self) -> str:
        """Bus URI: `bus_uri`, else the embedded log under the home."""
        return self.bus_uri or f"log://{(self.home / 'bus.db').absolute()}"

    def ensure_home(self) -> None:
        # Private by default: the home holds the state database and maybe the secret key.
        if not self.home.exists():
            self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.home.chmod(0o700)  # mkdir's mode is filtered by the umask

    def fingerprint(self) -> str:
        """Hash of the settings that change what a run produces (not where it goes)."""
        relevant = {
            "future_tolerance_seconds": self.future_tolerance_seconds,
        }
        blob = json.dumps(relevant, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}
