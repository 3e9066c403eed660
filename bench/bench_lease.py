"""Benchmark: a worker's lease (`Outbox.lease_due`) against the size of the
queue, on PostgreSQL.

For each queue size N: a fresh database, N Telegram articles ingested (N
pending deliveries), then 50 leases of 10 by one worker, each batch marked sent
before the next lease (as a worker goes). Timed: the lease calls only. Once as
ingested (the planner has no statistics yet, as in the first minute after a
burst, before autovacuum analyses the table) and once after ANALYZE.
Figures: ms per lease at each size, and the ratio of the largest size's to the
smallest's: near 1 when a lease reads only the few rows it takes, growing with
N when it sorts the whole queue.

    .venv/bin/python bench/bench_lease.py [--sizes 600,3000,10000] [--json bench/results/lease.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import sqlalchemy as sa  # noqa: E402

import bench_delivery as single  # noqa: E402
from distributor.ingest.pipeline import ingest  # noqa: E402
from distributor.store import Store, utcnow  # noqa: E402

LEASES = 50


def leases_ms(work: Path, dbs: single.Databases, n: int, analyze: bool) -> float:
    articles = work / f"articles-{n}"
    if not articles.exists():
        single.write_articles(articles, n)
    settings = single.settings_for(work, dbs.postgres(), articles, 0, f"lease-{n}-{analyze}")
    with Store.open(settings) as store:
        (report,) = ingest(settings, store)
        if len(report.new) != n:
            raise SystemExit(f"ingest: {report.summary()}")
        if analyze:
            with store.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
        spent = 0.0
        for _ in range(LEASES):
            start = time.perf_counter()
            ids = store.outbox.lease_due(utcnow(), kinds=("telegram", "twitter"), worker="bench")
            spent += time.perf_counter() - start
            if len(ids) != 10:
                raise SystemExit(f"a lease of 10 took {len(ids)}")
            with store.engine.begin() as conn:
                conn.execute(sa.text("UPDATE deliveries SET status = 'sent' WHERE id = ANY(:ids)"), {"ids": ids})
    return spent / LEASES * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="600,3000,10000")
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "lease.json")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]

    work = Path(tempfile.mkdtemp(prefix="bench-lease-"))
    dbs = single.Databases(work)
    why = dbs.pg_available()
    if why:
        raise SystemExit(f"PostgreSQL is needed at {single.PG_ADMIN_URL}: {why}")
    result: dict = {"leases_per_size": LEASES, "lease_size": 10, "cpus": os.cpu_count()}
    try:
        for label, analyze in (("as_ingested", False), ("analyzed", True)):
            ms = {}
            for n in sizes:
                ms[n] = leases_ms(work, dbs, n, analyze)
                print(f"{label}: {n} queued: {ms[n]:.2f} ms a lease", flush=True)
                dbs.drop_postgres()
            result[label] = {"ms_per_lease": {str(n): round(v, 2) for n, v in ms.items()},
                             f"ratio_{sizes[-1]}_vs_{sizes[0]}": round(ms[sizes[-1]] / ms[sizes[0]], 2)}
    finally:
        dbs.drop_postgres()
        shutil.rmtree(work, ignore_errors=True)
    result["load_average_at_end"] = os.getloadavg()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
