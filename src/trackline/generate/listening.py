"""Row makers for the listening datasets: plays, events, feedback, top lists, playlists.

A row maker picks the row's entities (a listener, a track) and the numbers that must agree
with them (a position inside the track, a play's length and how it ended) into `ctx.v`; the
dataset's fields (`data/datasets.yaml`) project them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trackline.generate.catalogue import Track
from trackline.generate.context import Ctx
from trackline.generate.pools import Pool
from trackline.generate.vocabulary import (
    ACTIONS,
    DEVICES,
    EVENT_TYPES,
    PLAYLISTS,
    REASON_END,
    SOURCES,
    TIME_RANGES,
)


def listening_event(c: Ctx) -> None:
    c.listen()
    kind = EVENT_TYPES.pick(c.rand)
    from_start = kind == "play" and c.rand() < 0.7
    c.v["event_type"] = kind
    c.v["position_ms"] = 0 if from_start else int(c.rand() * c.track.duration_ms)
    c.v["device"] = c.user.device if c.rand() < 0.85 else DEVICES.pick(c.rand)


def play(c: Ctx) -> None:
    """A play as the Spotify API, a Spotify export or YouTube reports it."""
    c.listen()
    source = SOURCES.pick(c.rand)
    end = REASON_END.pick(c.rand) if source == "spotify_export" else None
    d = c.track.duration_ms
    if end in (None, "trackdone"):
        played = d if c.rand() < 0.97 else d + int(c.rand() * d * 0.5)  # seeks back run over
    else:
        played = int(c.rand() * d * (0.5 if end == "fwdbtn" else 1.0))
    c.v["source"] = source
    c.v["reason_end"] = end
    c.v["ms_played"] = played
    c.v["skipped"] = None if end is None else end == "fwdbtn"
    # listens v2: the export's play details and the API's account country, derived from what
    # is already drawn (no new draw: every other field keeps its seeded value)
    export = source == "spotify_export"
    offline = export and played % 13 == 0
    c.v["account_country"] = c.user.country if source == "spotify_api" else None
    c.v["reason_start"] = ("clickrow" if played % 3 == 0 else "trackdone") if export else None
    c.v["shuffle"] = played % 2 == 1 if export else None
    c.v["offline"] = offline if export else None
    c.v["offline_timestamp"] = c.iso(c.t_ms - played - 3_600_000) if offline else None
    c.v["incognito_mode"] = played % 17 == 0 if export else None
    c.v["platform"] = c.user.device if export else None


def episode_play(c: Ctx) -> None:
    """A podcast episode (or now and then an audiobook chapter) played, as an export says."""
    c.listen()
    audiobook = c.rand() < 0.1
    length = c.track.duration_ms * 8  # spoken word runs long
    played = int(c.rand() * length)
    c.v["kind"] = "audiobook" if audiobook else "podcast"
    c.v["context"] = "play@" + c.ts()[:19] + "Z"  # the play's second, as the key names it
    c.v["episode_id"] = c.track.id
    c.v["episode_name"] = ("Chapter: " if audiobook else "Episode: ") + c.track.name
    c.v["show_name"] = c.track.artist.name + (" (audiobook)" if audiobook else " Talks")
    c.v["ms_played"] = played
    c.v["duration_ms"] = length
    c.v["skipped"] = played < 30_000
    c.v["platform"] = c.user.device
    c.v["source"] = "spotify_export"
    c.v["reason_start"] = "clickrow"
    c.v["reason_end"] = "endplay" if played < length else "trackdone"
    c.v["shuffle"], c.v["offline"], c.v["incognito_mode"] = False, False, False
    c.v["offline_timestamp"] = c.v["playlist_id"] = c.v["added_at"] = None


def feedback(c: Ctx) -> None:
    """Likes, dislikes and skips in sessions of 5-30; a skip comes in the first 30 seconds."""
    if c.new_group():
        c.size = c.between(5, 30)
        c.g = {"session_id": c.uuid()}
        c.user = c.world.listeners.pick(c.rand)
    c.track = c.world.tracks.pick(c.rand)
    action = ACTIONS.pick(c.rand)
    reach = min(30_000, c.track.duration_ms) if action == "skip" else c.track.duration_ms
    c.v["action"] = action
    c.v["position_ms"] = int(c.rand() * reach)


def _top_list(pool: Callable[[Ctx], Pool[Any]]) -> Callable[[Ctx], None]:
    """A user's top 50 (or 20) for one time range, fetched at one moment: ranks 1..n."""

    def begin(c: Ctx) -> None:
        if c.new_group():
            c.size = 50 if c.rand() < 0.8 else 20
            c.user = c.world.listeners.pick(c.rand)
            c.g = {
                "time_range": TIME_RANGES.pick(c.rand),
                "fetched_at": c.ts(),
                "items": c.distinct(pool(c), c.size),
            }
        item = c.g["items"][c.pos]
        if isinstance(item, Track):
            c.track = item
        c.v["item"] = item

    return begin


top_tracks = _top_list(lambda c: c.world.tracks)
top_artists = _top_list(lambda c: c.world.artists)


def playlist_track(c: Ctx) -> None:
    """A playlist's tracks, fetched at one moment; counts as the playlist's platform has them."""
    if c.new_group():
        c.size = c.between(8, 20) if c.rand() < 0.7 else c.between(21, 60)
        c.user = c.world.listeners.pick(c.rand)
        youtube = c.rand() < 0.25
        c.g = {
            "source": "youtube" if youtube else "spotify",
            "playlist_id": "PL" + c.b62(32) if youtube else c.b62(22),
            "playlist_name": PLAYLISTS.pick(c.rand),
            "fetched_ms": c.t_ms,
            "fetched_at": c.ts(),
            "tracks": c.distinct(c.world.tracks, c.size),
        }
    c.track = c.g["tracks"][c.pos]
    c.v["added_at"] = c.iso(c.start_ms + int(c.rand() * (c.g["fetched_ms"] - c.start_ms)))
    counts: tuple[int | None, ...]
    if c.g["source"] == "youtube":  # views, likes and comments exist only on YouTube
        views = int(10 ** (2 + c.rand() * 6))
        counts = (views, int(views * c.rand() * 0.06), int(views * c.rand() * 0.004), None)
    else:
        counts = (None, None, None, c.track.popularity)
    c.v["view_count"], c.v["like_count"], c.v["comment_count"], c.v["popularity"] = counts


ROW_MAKERS: dict[str, Callable[[Ctx], None]] = {
    "listening_event": listening_event,
    "play": play,
    "episode_play": episode_play,
    "feedback": feedback,
    "top_tracks": top_tracks,
    "top_artists": top_artists,
    "playlist_track": playlist_track,
}
