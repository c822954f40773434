"""Offline evaluation of the recommenders against a popularity baseline.

Synthetic listeners with real taste: each belongs to one of several taste clusters (a genre's
catalogue), draws most plays from it with a skewed popularity and the rest from the global
charts. Each listener's last 20% of plays (by time) is held out; a recommender sees the rest
and must put held-out tracks (new to the listener) in its top 10.

    .venv/bin/python bench/recs.py                       # 400 listeners, knn + als
    .venv/bin/python bench/recs.py --users 1000 --seed 3
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import defaultdict
from itertools import accumulate
from typing import Any

import duckdb

from trackline.core import duck
from trackline.recommend import base

K = 10


def synthesise(users: int, tracks: int, clusters: int, seed: int) -> list[tuple[str, str, int]]:
    """(user, track, time) plays: 80% from the listener's cluster, 20% from global charts."""
    rng = random.Random(seed)
    per_cluster = tracks // clusters
    zipf = list(accumulate(1 / (r + 1) ** 0.9 for r in range(per_cluster)))
    global_zipf = list(accumulate(1 / (r + 1) ** 1.1 for r in range(tracks)))
    order = list(range(tracks))
    rng.shuffle(order)  # chart positions unrelated to clusters
    plays = []
    for u in range(users):
        cluster = u % clusters
        favourite = rng.sample(range(per_cluster), per_cluster)  # personal twist on the cluster
        for t in range(rng.randint(40, 160)):
            if rng.random() < 0.8:
                rank = rng.choices(range(per_cluster), cum_weights=zipf)[0]
                # mostly the cluster's hits, sometimes the listener's own deep cuts
                idx = rank if rng.random() < 0.7 else favourite[rank]
                track = cluster * per_cluster + idx
            else:
                track = order[rng.choices(range(tracks), cum_weights=global_zipf)[0]]
            plays.append((f"u{u:05d}", f"t{track:05d}", t))
    return plays


def split(
    plays: list[tuple[str, str, int]],
) -> tuple[list[tuple[str, str]], dict[str, set[str]]]:
    by_user: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for u, t, ts in plays:
        by_user[u].append((ts, t))
    train, test = [], {}
    for u, items in by_user.items():
        items.sort()
        cut = int(len(items) * 0.8)
        seen = {t for _, t in items[:cut]}
        train += [(u, t) for _, t in items[:cut]]
        held = {t for _, t in items[cut:]} - seen
        if held:
            test[u] = held
    return train, test


def popularity(con: duckdb.DuckDBPyConnection, user: str, n: int) -> list[str]:
    rows = con.execute(
        "SELECT track_id FROM plays_source GROUP BY track_id "
        "HAVING NOT bool_or(user_id = ?) "
        "ORDER BY count(DISTINCT user_id) DESC, track_id LIMIT ?",
        [user, n],
    ).fetchall()
    return [r[0] for r in rows]


def evaluate(name: str, recommend: Any, test: dict[str, set[str]]) -> dict[str, float]:
    precision = recall = 0.0
    start = time.perf_counter()
    for user, held in test.items():
        hits = len(set(recommend(user)[:K]) & held)
        precision += hits / K
        recall += hits / len(held)
    seconds = time.perf_counter() - start
    return {
        "method": name,
        f"precision@{K}": round(precision / len(test), 4),
        f"recall@{K}": round(recall / len(test), 4),
        "ms_per_user": round(1000 * seconds / len(test), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=400)
    parser.add_argument("--tracks", type=int, default=2000)
    parser.add_argument("--clusters", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--methods", default="knn,als")
    args = parser.parse_args()
    train, test = split(synthesise(args.users, args.tracks, args.clusters, args.seed))
    con = duck.connect()
    con.execute("CREATE TABLE plays_source (user_id VARCHAR, track_id VARCHAR)")
    con.executemany("INSERT INTO plays_source VALUES (?, ?)", train)
    results = [evaluate("popularity", lambda u: popularity(con, u, K), test)]
    for method in args.methods.split(","):
        rec = base.get(method, seed=args.seed)
        results.append(
            evaluate(method, lambda u, r=rec: [x.track_id for x in r.recommend(con, [u], K)], test)
        )
    baseline = results[0][f"precision@{K}"]
    for r in results:
        r["lift_vs_popularity"] = round(r[f"precision@{K}"] / baseline, 2) if baseline else None
    print(json.dumps({"users": len(test), "train_plays": len(train), "results": results}, indent=2))
    beaten = all(r[f"precision@{K}"] > baseline for r in results[1:])
    print("every recommender beats popularity:", beaten)
    if not beaten:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
