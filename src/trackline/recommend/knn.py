"""Neighbourhood collaborative filtering in DuckDB: no extra dependency, one query.

The member (or the group's combined profile) is compared with every other listener by cosine
similarity of log-damped play counts; the `k` most similar listeners vote for tracks with their
similarity. Popular tracks fill the list when neighbours run out (a new member, say). Ties
break by track id, so the answer is deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from trackline.recommend.base import Recommendation, reason, register

SQL = """
WITH plays AS (
    SELECT user_id, track_id, count(*) AS w FROM plays_source GROUP BY user_id, track_id
),
members AS (SELECT DISTINCT unnest(CAST($users AS VARCHAR[])) AS user_id),
target AS (
    SELECT track_id, sum(w) AS w, count(*) AS in_group
    FROM plays JOIN members USING (user_id) GROUP BY track_id
),
excluded AS (SELECT track_id FROM target WHERE in_group = (SELECT count(*) FROM members)),
norms AS (SELECT user_id, sqrt(sum(ln(1 + w) ^ 2)) AS norm FROM plays GROUP BY user_id),
target_norm AS (SELECT sqrt(sum(ln(1 + w) ^ 2)) AS norm FROM target),
nearest AS (
    SELECT p.user_id, sum(ln(1 + p.w) * ln(1 + t.w)) / (any_value(n.norm) * any_value(tn.norm))
           AS sim
    FROM plays p
    JOIN target t USING (track_id)
    JOIN norms n USING (user_id)
    CROSS JOIN target_norm tn
    WHERE p.user_id NOT IN (SELECT user_id FROM members)
    GROUP BY p.user_id
    ORDER BY sim DESC, p.user_id
    LIMIT $k
),
voted AS (
    SELECT p.track_id, sum(s.sim * ln(1 + p.w)) AS score, count(*) AS neighbours
    FROM plays p JOIN nearest s USING (user_id) GROUP BY p.track_id
),
popular AS (
    SELECT track_id, count(DISTINCT user_id) AS listeners FROM plays GROUP BY track_id
),
ranked AS (
    SELECT pop.track_id,
           coalesce(v.score, 0) AS score,
           coalesce(v.neighbours, 0) AS neighbours,
           coalesce(t.in_group, 0) AS in_group,
           v.score IS NULL AS fallback,
           pop.listeners
    FROM popular pop
    LEFT JOIN voted v USING (track_id)
    LEFT JOIN target t USING (track_id)
    WHERE pop.track_id NOT IN (SELECT track_id FROM excluded)
)
SELECT track_id, score, neighbours, in_group
FROM ranked
ORDER BY fallback, score DESC, listeners DESC, track_id
LIMIT $n
"""


class NeighbourRecommender:
    name = "knn"

    def __init__(self, seed: int = 0, neighbours: int = 50) -> None:
        self.seed = seed  # the method has no randomness; kept for a uniform interface
        self.neighbours = neighbours

    def recommend(
        self, con: duckdb.DuckDBPyConnection, users: Sequence[str], n: int
    ) -> list[Recommendation]:
        members = sorted(set(users))
        rows = con.execute(SQL, {"users": members, "k": self.neighbours, "n": n}).fetchall()
        return [
            Recommendation(
                track_id=str(track),
                score=round(float(score), 6),
                reason=reason(len(members), int(in_group), int(neighbours)),
            )
            for track, score, neighbours, in_group in rows
        ]


@register("knn")
def _factory(seed: int) -> NeighbourRecommender:
    return NeighbourRecommender(seed)
