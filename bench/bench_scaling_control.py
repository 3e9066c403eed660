"""Control for bench_workers.py's scaling ratio: what this machine gives two
processes of a minimal client that has none of distributor's code.

Each client process loops: CLIENT_MS of CPU in Python (a worker's own work per
delivery), two autocommit UPDATEs of its own rows on PostgreSQL (a claim and an
answer, each a commit), and one HTTP POST to a one-process uvicorn server that
spends SERVER_MS of CPU on it (the sandbox's cost per post). The defaults are
what bench_workers measured per delivery on the development machine in
session 7 (`cpu_ms_per_delivery`: a worker ~2.0 ms, the sandbox ~0.4 ms).
Figures: requests/s of one client; of two clients posting to one server; of
two clients posting to a server each; and the ratios two / one. A ratio well under 2 here is the machine and the shared
server, not distributor: the most bench_workers' workers can show.

    .venv/bin/python bench/bench_scaling_control.py [--requests 1500] [--rounds 3]
                                                     [--client-ms 2.0] [--server-ms 0.4]
                                                     [--json bench/results/scaling-control.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))


def spin(ms: float) -> None:
    """Busy for `ms` milliseconds of this thread's CPU time."""
    end = time.thread_time() + ms / 1000
    x = 0
    while time.thread_time() < end:
        for i in range(200):
            x += i * i


def serve(port: int, server_ms: float) -> None:
    import uvicorn

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        spin(server_ms)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b'{"ok":true}'})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def client(port: int, db_url: str, n: int, client_ms: float, first_row: int) -> None:
    import httpx
    import psycopg

    conn = psycopg.connect(db_url, autocommit=True)
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False)
    body = b"x" * 1500  # about a post's payload
    start = time.perf_counter()
    for j in range(n):
        spin(client_ms)
        conn.execute("UPDATE control SET n = n + 1 WHERE id = %s", (first_row + 2 * j,), prepare=True)
        conn.execute("UPDATE control SET n = n + 1 WHERE id = %s", (first_row + 2 * j + 1,), prepare=True)
        http.post("/", content=body).raise_for_status()
    print(n / (time.perf_counter() - start), flush=True)


def run_clients(ports: list[int], db_url: str, n: int, client_ms: float) -> float:
    """Total requests/s of one client per port (started together)."""
    procs = [subprocess.Popen([sys.executable, __file__, "--as-client", str(port), db_url, str(n), str(client_ms),
                               str(1 + i * 2 * n)], stdout=subprocess.PIPE, text=True)
             for i, port in enumerate(ports)]
    rates = [float(p.communicate(timeout=600)[0].strip()) for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit("a control client failed")
    return sum(rates)


def main() -> None:
    import bench_delivery as single
    import bench_workers as workers

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=1500)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--client-ms", type=float, default=2.0)
    ap.add_argument("--server-ms", type=float, default=0.4)
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "scaling-control.json")
    args = ap.parse_args()
    n = args.requests

    work = Path(tempfile.mkdtemp(prefix="bench-control-"))
    dbs = single.Databases(work)
    why = dbs.pg_available()
    if why:
        raise SystemExit(f"PostgreSQL is needed at {single.PG_ADMIN_URL}: {why}")
    servers: list[subprocess.Popen[bytes]] = []
    series: dict[str, list[float]] = {"one": [], "two_one_server": [], "two_own_servers": []}
    try:
        url = dbs.postgres()
        import sqlalchemy as sa
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE control (id integer PRIMARY KEY, n integer NOT NULL)")
            conn.exec_driver_sql(f"INSERT INTO control SELECT g, 0 FROM generate_series(1, {4 * n + 2}) g")
        engine.dispose()
        db_url = sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        ports = [workers.free_port(), workers.free_port()]
        for port in ports:
            servers.append(subprocess.Popen([sys.executable, __file__, "--as-server", str(port), str(args.server_ms)]))
        import httpx
        for port in ports:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.post(f"http://127.0.0.1:{port}/", content=b"", trust_env=False)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise SystemExit("a control server did not start")
                    time.sleep(0.1)
        for r in range(args.rounds):
            for name, used in (("one", ports[:1]), ("two_one_server", [ports[0], ports[0]]),
                               ("two_own_servers", ports)):
                with sa.create_engine(url).begin() as conn:
                    conn.exec_driver_sql("UPDATE control SET n = 0")
                series[name].append(run_clients(used, db_url, n, args.client_ms))
            print(f"round {r + 1}: one {series['one'][-1]:.0f}/s, two on one server "
                  f"{series['two_one_server'][-1]:.0f}/s, two on a server each {series['two_own_servers'][-1]:.0f}/s",
                  flush=True)
    finally:
        for s in servers:
            s.terminate()
            s.wait(timeout=10)
        dbs.drop_postgres()

    one = statistics.median(series["one"])
    result = {
        "requests_per_client": n, "rounds": args.rounds, "cpus": os.cpu_count(),
        "client_ms": args.client_ms, "server_ms": args.server_ms,
        "requests_per_s": {k: round(statistics.median(v), 1) for k, v in series.items()},
        "rounds_requests_per_s": {k: [round(x, 1) for x in v] for k, v in series.items()},
        "ratio_two_one_server": round(statistics.median(series["two_one_server"]) / one, 2),
        "ratio_two_own_servers": round(statistics.median(series["two_own_servers"]) / one, 2),
        "ratio_rounds": {k: [round(x / o, 2) for x, o in zip(series[k], series["one"])]
                         for k in ("two_one_server", "two_own_servers")},
        "load_average_at_end": os.getloadavg(),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--as-server":
        serve(int(sys.argv[2]), float(sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--as-client":
        client(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]))
    else:
        main()
