"""Matrix factorisation for implicit feedback (ALS, the `implicit` package): optional, behind
the `recs` extra. Plays become a confidence-weighted user x track matrix; a group is scored as
one listener whose plays are the members' plays together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb

from trackline.errors import ExtraNotInstalledError
from trackline.recommend.base import Recommendation, reason, register

COUNTS = "SELECT user_id, track_id, count(*) AS w FROM plays_source GROUP BY user_id, track_id"


def _libs() -> tuple[Any, Any, Any]:
    try:
        import numpy as np
        from implicit.als import AlternatingLeastSquares
        from scipy.sparse import csr_matrix
    except ImportError:
        raise ExtraNotInstalledError(
            "the als recommender needs `implicit`: pip install 'trackline[recs]' "
            "(or use --method knn)"
        ) from None
    return np, AlternatingLeastSquares, csr_matrix


class ALSRecommender:
    name = "als"

    def __init__(self, seed: int = 0, factors: int = 48, iterations: int = 15) -> None:
        self.seed = seed
        self.factors = factors
        self.iterations = iterations

    def recommend(
        self, con: duckdb.DuckDBPyConnection, users: Sequence[str], n: int
    ) -> list[Recommendation]:
        np, als_cls, csr_matrix = _libs()
        members = sorted(set(users))
        rows = con.execute(COUNTS).fetchall()
        if not rows:
            return []
        user_ids = sorted({r[0] for r in rows})
        track_ids = sorted({r[1] for r in rows})
        u_index = {u: i for i, u in enumerate(user_ids)}
        t_index = {t: i for i, t in enumerate(track_ids)}
        ui = np.array([u_index[r[0]] for r in rows])
        ti = np.array([t_index[r[1]] for r in rows])
        conf = 1.0 + 10.0 * np.log1p(np.array([r[2] for r in rows], dtype=np.float32))
        matrix = csr_matrix((conf, (ui, ti)), shape=(len(user_ids), len(track_ids)))
        # a factor needs several listeners behind it: more only memorises a small history
        factors = min(self.factors, max(2, min(len(user_ids), len(track_ids)) // 8))
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

        with threadpool_limits(1, "blas"):  # implicit's advice; also keeps runs repeatable
            model = als_cls(
                factors=factors,
                iterations=self.iterations,
                regularization=0.05,
                random_state=self.seed,
                num_threads=1,  # one thread: the same seed gives the same factors
            )
            model.fit(matrix, show_progress=False)
        played: dict[str, int] = {}
        for u in members:
            if u in u_index:
                for t in matrix[u_index[u]].indices:
                    played[track_ids[t]] = played.get(track_ids[t], 0) + 1
        excluded = {t for t, k in played.items() if k == len(members)}
        profile = np.zeros(len(track_ids), dtype=np.float32)
        for u in members:
            if u in u_index:
                profile += matrix[u_index[u]].toarray()[0]
        if not profile.any():
            return []
        ids, scores = model.recommend(
            0,
            csr_matrix(profile),
            N=min(len(track_ids), n + len(excluded)),
            recalculate_user=True,
            filter_already_liked_items=False,
        )
        out = []
        for t, s in zip(ids, scores, strict=True):
            track = track_ids[int(t)]
            if track in excluded:
                continue
            out.append(
                Recommendation(
                    track_id=track,
                    score=round(float(s), 6),
                    reason=reason(len(members), played.get(track, 0), 0)
                    if played.get(track)
                    else "fits the taste of your listening history",
                )
            )
        return out[:n]


@register("als")
def _factory(seed: int) -> ALSRecommender:
    return ALSRecommender(seed)
