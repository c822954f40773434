"""Matrix factorisation for implicit feedback (ALS, the `implicit` package): optional, behind
the `recs` extra. Plays become a confidence-weighted user x track matrix; a group is scored as
one listener whose plays are the members' plays together.

The model is fitted once per recommender instance, on the first call: an instance answers for
one snapshot of the plays (the CLI makes one per command; an evaluation, one per training set).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from trackline.errors import ExtraNotInstalledError
from trackline.recommend.base import Recommendation, reason, register

#: Dense 0-based indexes computed in DuckDB, so the matrix is built from columns, not rows.
COUNTS = """
SELECT dense_rank() OVER (ORDER BY user_id) - 1 AS ui,
       dense_rank() OVER (ORDER BY track_id) - 1 AS ti,
       user_id, track_id, w
FROM (SELECT user_id, track_id, count(*) AS w FROM plays_source GROUP BY user_id, track_id)
"""


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


@dataclass
class _Fitted:
    model: Any
    matrix: Any
    users: dict[str, int]
    tracks: list[str]


class ALSRecommender:
    name = "als"

    def __init__(self, seed: int = 0, factors: int = 48, iterations: int = 15) -> None:
        self.seed = seed
        self.factors = factors
        self.iterations = iterations
        self._fitted: _Fitted | None = None

    def fit(self, con: duckdb.DuckDBPyConnection) -> _Fitted | None:
        np, als_cls, csr_matrix = _libs()
        cols = con.execute(COUNTS).fetchnumpy()
        if len(cols["w"]) == 0:
            return None
        ui, ti = cols["ui"].astype(np.int64), cols["ti"].astype(np.int64)
        n_users, n_tracks = int(ui.max()) + 1, int(ti.max()) + 1
        users = {str(u): int(i) for u, i in zip(cols["user_id"], ui, strict=True)}
        tracks = [""] * n_tracks
        for t, i in zip(cols["track_id"], ti, strict=True):
            tracks[int(i)] = str(t)
        conf = 1.0 + 10.0 * np.log1p(cols["w"].astype(np.float32))
        matrix = csr_matrix((conf, (ui, ti)), shape=(n_users, n_tracks))
        # a factor needs several listeners behind it: more only memorises a small history
        factors = min(self.factors, max(2, min(n_users, n_tracks) // 8))
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, "blas"):  # implicit's advice; also keeps runs repeatable
            model = als_cls(
                factors=factors,
                iterations=self.iterations,
                regularization=0.05,
                random_state=self.seed,
                num_threads=1,  # one thread: the same seed gives the same factors
            )
            model.fit(matrix, show_progress=False)
        return _Fitted(model, matrix, users, tracks)

    def recommend(
        self, con: duckdb.DuckDBPyConnection, users: Sequence[str], n: int
    ) -> list[Recommendation]:
        np, _, csr_matrix = _libs()
        if self._fitted is None:
            self._fitted = self.fit(con)
        fitted = self._fitted
        if fitted is None:
            return []
        members = sorted(set(users))
        rows = [fitted.users[u] for u in members if u in fitted.users]
        if not rows:
            return []
        member_rows = fitted.matrix[rows]
        profile = np.asarray(member_rows.sum(axis=0)).ravel().astype(np.float32)
        played_by = np.asarray((member_rows > 0).sum(axis=0)).ravel()
        excluded = int((played_by == len(members)).sum())
        ids, scores = fitted.model.recommend(
            0,
            csr_matrix(profile),
            N=min(len(fitted.tracks), n + excluded),
            recalculate_user=True,
            filter_already_liked_items=False,
        )
        out = []
        for t, s in zip(ids, scores, strict=True):
            count = int(played_by[int(t)])
            if count == len(members):
                continue
            why = (
                reason(len(members), count, 0)
                if count
                else "fits the taste of your listening history"
            )
            out.append(Recommendation(fitted.tracks[int(t)], round(float(s), 6), why))
        return out[:n]


@register("als")
def _factory(seed: int) -> ALSRecommender:
    return ALSRecommender(seed)
