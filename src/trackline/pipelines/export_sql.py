"""The SQL that turns one Spotify export file into `listens` and `episodes` rows (set-wise).

Every value is read as text (`read_json(..., columns=...)` with VARCHAR columns): the contracts
type and check it, so a bad value becomes a rejected row with its reason, never a crash here.
Only the named columns are read: IP addresses (`ip_addr`, `ip_addr_decrypted`) and user agents
(`user_agent_decrypted`) never leave the input file.

What goes where:
- extended history (`Streaming_History_Audio_*`, `..._Video_*`, `endsong_*`): a row naming an
  audiobook (`audiobook_*`) is an `episodes` row of kind `audiobook`; a row naming an episode
  (`spotify_episode_uri`, `episode_name`, `episode_show_name`) one of kind `podcast`; every
  other row is a `listens` row (music);
- account data: `StreamingHistory_podcast_*` -> `episodes`; `StreamingHistory_music_*` and the
  older `StreamingHistory<n>` -> `listens`.

Identity: ids are bare (`spotify:track:ID` -> `ID`). A music row of the extended history without
a track URI (a local file: names, no `spotify_track_uri`, or a `spotify:local:` one) has no
track id, so `listens` rejects it with `required:track_id`, as the API path rejects a local
file's play: the rejected record keeps its names and `local_uri` (any other URI that is not a
track's stays as `spotify_track_uri`). Local files are never listens. The account data has no
URIs at all: its music rows and every episode without a URI get `name:<md5 of lower-cased
artist/show and title>`, the same id from every file. A play's time is the export's `ts` (UTC,
to the second) or `endTime` (UTC, to the minute). `conn_country` `ZZ` (Spotify's "unknown") is
NULL.
"""

from __future__ import annotations

from trackline.core.dialect import literal

EXTENDED_COLUMNS = (
    "ts", "username", "platform", "ms_played", "conn_country",
    "master_metadata_track_name", "master_metadata_album_artist_name",
    "master_metadata_album_album_name", "spotify_track_uri",
    "episode_name", "episode_show_name", "spotify_episode_uri",
    "audiobook_title", "audiobook_uri", "audiobook_chapter_uri", "audiobook_chapter_title",
    "reason_start", "reason_end", "shuffle", "skipped", "offline", "offline_timestamp",
    "incognito_mode",
)  # fmt: skip
ACCOUNT_MUSIC_COLUMNS = ("endTime", "artistName", "trackName", "msPlayed")
ACCOUNT_PODCAST_COLUMNS = ("endTime", "podcastName", "episodeName", "msPlayed")
COLUMNS = {
    "extended": EXTENDED_COLUMNS,
    "account_music": ACCOUNT_MUSIC_COLUMNS,
    "account_podcast": ACCOUNT_PODCAST_COLUMNS,
}
DATASETS = ("listens", "episodes")


def _bare(uri: str, kind: str) -> str:
    """The id of a `spotify:<kind>:<id>` URI, else NULL."""
    return f"nullif(regexp_extract({uri}, '^spotify:{kind}:([0-9A-Za-z]+)$', 1), '')"


def _name_key(who: str, title: str) -> str:
    """`name:<md5>` of two names (NULL when both are missing): the id of a row without a URI."""
    return (
        f"CASE WHEN {who} IS NOT NULL OR {title} IS NOT NULL THEN 'name:' || "
        f"md5(lower(trim(coalesce({who}, ''))) || chr(31) || lower(trim(coalesce({title}, ''))))"
        " END"
    )


def _second(ts: str) -> str:
    """`ts` as the text a play's context carries: UTC, to the second (the contract's key)."""
    return (
        "coalesce(strftime(date_trunc('second', TRY_CAST("
        f"{ts} AS TIMESTAMPTZ)), '%Y-%m-%dT%H:%M:%SZ'), trim({ts}), '')"
    )


# seconds, milliseconds or microseconds since the epoch, by magnitude; 0 means none
OFFLINE_TS = """CASE
    WHEN NOT regexp_full_match(trim(offline_timestamp), '[0-9]+') THEN offline_timestamp
    WHEN TRY_CAST(trim(offline_timestamp) AS HUGEINT) = 0 THEN NULL
    WHEN TRY_CAST(trim(offline_timestamp) AS HUGEINT) >= 100000000000000
        THEN CAST(make_timestamp(CAST(trim(offline_timestamp) AS BIGINT)) AS VARCHAR)
    WHEN TRY_CAST(trim(offline_timestamp) AS HUGEINT) >= 100000000000
        THEN CAST(epoch_ms(CAST(trim(offline_timestamp) AS BIGINT)) AS VARCHAR)
    ELSE CAST(make_timestamp(CAST(trim(offline_timestamp) AS BIGINT) * 1000000) AS VARCHAR)
END"""

PLAY_DETAILS = (
    "nullif(upper(trim(conn_country)), 'ZZ') AS country, platform, reason_start, reason_end, "
    f"shuffle, skipped, offline, ({OFFLINE_TS}) AS offline_timestamp, incognito_mode"
)

# a music row's URI when it names no track: a local file's, or anything else (kept for the
# rejected record; such a row has no track id)
LOCAL_URI = """CASE WHEN starts_with(spotify_track_uri, 'spotify:local:') THEN spotify_track_uri
    END AS local_uri, CASE WHEN NOT starts_with(spotify_track_uri, 'spotify:local:')
    AND regexp_extract(spotify_track_uri, '^spotify:track:([0-9A-Za-z]+)$', 1) = ''
    THEN spotify_track_uri END AS spotify_track_uri"""

EXTENDED_KIND = """CASE
    WHEN audiobook_uri IS NOT NULL OR audiobook_chapter_uri IS NOT NULL
         OR audiobook_title IS NOT NULL OR audiobook_chapter_title IS NOT NULL THEN 'audiobook'
    WHEN spotify_episode_uri IS NOT NULL OR episode_name IS NOT NULL
         OR episode_show_name IS NOT NULL THEN 'podcast'
    ELSE 'music' END"""


def source(path: str, family: str) -> str:
    cols = COLUMNS[family]
    spec = "{" + ", ".join(f"{literal(c)}: 'VARCHAR'" for c in cols) + "}"
    return f"read_json({literal(path)}, format='array', columns={spec})"


def select(family: str, dataset: str, path: str, user: str | None) -> str:
    """The rows of `dataset` in one export file (no rows when the file holds none)."""
    src, u = source(path, family), literal(user) if user else "NULL"
    if family == "extended":
        kinded = f"(SELECT *, {EXTENDED_KIND} AS _kind FROM {src})"
        track = "master_metadata_track_name"
        artist = "master_metadata_album_artist_name"
        if dataset == "listens":
            return (
                f"SELECT coalesce({u}, username) AS user_id, ts AS played_at, "
                f"{_bare('spotify_track_uri', 'track')} AS track_id, "
                f"{track} AS track_name, {artist} AS artist_name, "
                "master_metadata_album_album_name AS album_name, ms_played, "
                f"'spotify_export' AS source, {PLAY_DETAILS}, {LOCAL_URI} "
                f"FROM {kinded} WHERE _kind = 'music'"
            )
        show = "CASE _kind WHEN 'audiobook' THEN audiobook_title ELSE episode_show_name END"
        name = "CASE _kind WHEN 'audiobook' THEN audiobook_chapter_title ELSE episode_name END"
        bare = (
            f"CASE _kind WHEN 'audiobook' THEN {_bare('audiobook_chapter_uri', 'chapter')} "
            f"ELSE {_bare('spotify_episode_uri', 'episode')} END"
        )
        return (
            f"SELECT user_id, source, kind, 'play@' || {_second('played_at')} AS context, "
            f"coalesce(episode_id, {_name_key('show_name', 'episode_name')}) AS episode_key, "
            "* EXCLUDE (user_id, source, kind) FROM ("
            f"SELECT coalesce({u}, username) AS user_id, 'spotify_export' AS source, "
            f"_kind AS kind, {bare} AS episode_id, {name} AS episode_name, "
            f"{show} AS show_name, ms_played, ts AS played_at, {PLAY_DETAILS} "
            f"FROM {kinded} WHERE _kind <> 'music')"
        )
    if family == "account_music":
        if dataset != "listens":
            return f"SELECT NULL AS user_id FROM {src} WHERE false"
        return (
            f"SELECT {u} AS user_id, endTime AS played_at, "
            f"{_name_key('artistName', 'trackName')} AS track_id, trackName AS track_name, "
            f"artistName AS artist_name, msPlayed AS ms_played, 'spotify_export' AS source "
            f"FROM {src}"
        )
    if dataset != "episodes":
        return f"SELECT NULL AS user_id FROM {src} WHERE false"
    return (
        f"SELECT {u} AS user_id, 'spotify_export' AS source, 'podcast' AS kind, "
        f"'play@' || {_second('endTime')} AS context, "
        f"{_name_key('podcastName', 'episodeName')} AS episode_key, "
        "episodeName AS episode_name, podcastName AS show_name, msPlayed AS ms_played, "
        f"endTime AS played_at FROM {src}"
    )
