"""Benchmark: delivery throughput with 1, 2 and 4 `distributor worker`
processes on PostgreSQL, and the dispatcher's per-delivery overhead there.

scaling    A sandbox in its own process (`distributor sandbox`, rate limits
           lifted) and K worker processes (K = 1, 2, 4) on one fresh PostgreSQL
           database per round. M Telegram articles are ingested with the
           channel paused, the K workers started and registered, then the
           channel is resumed: the clock runs from the resume until all M are
           sent (read from the database; the sandbox's log must hold M posts,
           each delivery's own). Figures: deliveries/s per K (median of the
           rounds, K interleaved round by round), and the ratios K=2 / K=1 and
           K=4 / K=1. Each round also reads how many cores the whole machine
           kept busy (/proc/stat: workers, sandbox, PostgreSQL, this script):
           `scaling_bound_2_vs_1` is cores / (cores busy with one worker), the
           most two workers can reach if a delivery costs the machine no more
           CPU than it does with one.
           Two series: every worker posting to one sandbox process (`workers`,
           `scaling`), which serves one request at a time, so the workers'
           requests queue for it; and each worker posting to a sandbox of its
           own (`own_sandbox_*`), as a provider's API is served by many machines
           (each sandbox numbers the chat's messages from its own million, so
           remote ids stay distinct). One worker with a sandbox is the same in
           both: run once a round, it is both series' base. --shared-only skips
           the second.
overhead   bench_delivery.py's PostgreSQL run, side by side in this command:
           M raw python-telegram-bot `Bot.send_message` calls against
           `Dispatcher.drain` sending M deliveries (render, lease, claim,
           send, record), the sandbox in this process; the ratio of the rates.

The machine has 2 cores shared with other engineers: the script prints each
round's figure, so report the range, not one number.

    .venv/bin/python bench/bench_workers.py [--articles 600] [--rounds 3] [--quick] [--shared-only]
                                            [--json bench/results/workers.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import httpx  # noqa: E402
import sqlalchemy as sa  # noqa: E402

import bench_delivery as single  # noqa: E402
from distributor.config import load_settings  # noqa: E402
from distributor.ingest.pipeline import ingest  # noqa: E402
from distributor.store import Store, utcnow  # noqa: E402
from distributor.store.workers import Workers  # noqa: E402
from distributor.workers import STALE_AFTER_SECONDS  # noqa: E402

DISTRIBUTOR = [sys.executable, "-m", "distributor"]
WORKER_COUNTS = (1, 2, 4)
SERIES = {"shared": "one sandbox", "own": "a sandbox each"}
CHANNEL = "de.telegram"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env() -> dict[str, str]:
    return {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "PYTHONUNBUFFERED": "1"}


def config(work: Path, db: str, articles: Path, port: int, tag: str) -> Path:
    path = work / f"workers-{tag}.toml"
    path.write_text(single.CONFIG.format(db=db, articles=articles, chat=single.CHAT)
                    .replace("autostart = false", f"autostart = false\nport = {port}"), encoding="utf-8")
    return path


class Sandbox:
    def __init__(self, cfg: Path, port: int, work: Path):
        self.port = port
        self.log = open(work / f"sandbox-{port}.log", "w")
        self.proc = subprocess.Popen([*DISTRIBUTOR, "--config", str(cfg), "sandbox", "--port", str(port)],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=child_env())
        self.control = httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=60)
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.control.get("/_sandbox/ping").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the sandbox did not start: " + (work / f"sandbox-{port}.log").read_text()[-2000:])
            time.sleep(0.1)

    def posts(self) -> int:
        return sum(1 for r in self.control.get("/_sandbox/requests", params={"service": "telegram"}).json()["requests"]
                   if r["path"].endswith("/sendMessage"))

    def stop(self) -> None:
        self.control.close()
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process so far (its start included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time the whole machine spent busy so far, all cores (/proc/stat:
    everything but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def one_round(k: int, m: int, work: Path, articles: Path, dbs: single.Databases, sandboxes: list[Sandbox],
              tag: str) -> tuple[float, float, float, float]:
    """Deliveries/s of k workers sending m queued deliveries, how many cores
    the whole machine kept busy meanwhile, and the ms of CPU per delivery in
    the workers and in the sandboxes. One sandbox: all k send to
    it; several: worker i to sandboxes[i], each numbering the chat's
    messages from its own million (remote ids stay distinct)."""
    own = len(sandboxes) > 1
    used = sandboxes[:k] if own else sandboxes
    db = dbs.postgres()
    cfgs = [config(work, db, articles, used[i % len(used)].port, f"{tag}-{i}") for i in range(k)]
    settings = load_settings(cfgs[0])
    for i, sandbox in enumerate(used):
        sandbox.control.post("/_sandbox/reset")
        if i:
            sandbox.control.post("/_sandbox/telegram/history", json={"chat": single.CHAT, "last": i * 1_000_000})
    with Store.open(settings) as store:
        store.outbox.update_channel(CHANNEL, paused=True, paused_reason="bench: not yet", now=utcnow())
        (report,) = ingest(settings, store)
        if len(report.new) != m:
            raise SystemExit(f"ingest: {report.summary()}")
        procs = []
        for i in range(k):
            out = open(work / f"worker-{tag}-{i}.log", "w")
            procs.append(subprocess.Popen([*DISTRIBUTOR, "--config", str(cfgs[i]), "worker", "--poll-seconds", "0.1"],
                                          stdout=out, stderr=subprocess.STDOUT, env=child_env()))
            out.close()
        try:
            registry, deadline = Workers(store.engine), time.monotonic() + 120
            while len(registry.live(now=utcnow(), stale_after=STALE_AFTER_SECONDS)) < k:
                if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                    raise SystemExit(f"the workers did not start (see {work}/worker-{tag}-*.log)")
                time.sleep(0.1)
            start, cpu0 = time.perf_counter(), sum(cpu_seconds(p.pid) for p in procs)
            sandbox0, machine0 = sum(cpu_seconds(sb.proc.pid) for sb in used), machine_busy_seconds()
            store.outbox.update_channel(CHANNEL, paused=False, paused_reason=None, now=utcnow())
            q = sa.text("SELECT count(*) FROM deliveries WHERE channel = :c AND status = 'sent'")
            while True:
                with store.engine.connect() as conn:
                    if conn.execute(q, {"c": CHANNEL}).scalar_one() == m:
                        break
                if time.perf_counter() - start > 600 or any(p.poll() is not None for p in procs):
                    raise SystemExit(f"round {tag}: not all sent (see {work}/worker-{tag}-*.log)")
                time.sleep(0.02)
            elapsed = time.perf_counter() - start
            machine = machine_busy_seconds() - machine0
            cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu0
            emulator = sum(cpu_seconds(sb.proc.pid) for sb in used) - sandbox0
            rest = machine - cpu - emulator  # PostgreSQL's processes, this script's polling, the rest
            print(f"  {k} worker(s): {cpu / m * 1000:.1f} ms of CPU per delivery in the workers, "
                  f"{cpu / elapsed:.2f} cores busy; the sandbox{'es' if own else ''} "
                  f"{emulator / m * 1000:.1f} ms per post, "
                  f"{emulator / elapsed:.2f} cores busy; everything else (PostgreSQL, this script) "
                  f"{rest / m * 1000:.1f} ms, {rest / elapsed:.2f} cores; the machine {machine / m * 1000:.1f} ms "
                  f"per delivery, {machine / elapsed:.2f} of {os.cpu_count()} cores busy; "
                  f"load average {os.getloadavg()[0]:.1f}", flush=True)
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                p.wait(timeout=30)
    posts = sum(sb.posts() for sb in used)
    if posts != m:
        raise SystemExit(f"round {tag}: the sandbox{'es' if own else ''} logged {posts} posts for {m} deliveries")
    return m / elapsed, machine / elapsed, cpu / m * 1000, emulator / m * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=600)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="a fast smoke run: 100 articles, 1 round")
    ap.add_argument("--shared-only", action="store_true", help="only the series with one sandbox for all workers")
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "workers.json")
    args = ap.parse_args()
    m, rounds = (100, 1) if args.quick else (args.articles, args.rounds)

    work = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    dbs = single.Databases(work)
    why = dbs.pg_available()
    if why:
        raise SystemExit(f"PostgreSQL is needed at {single.PG_ADMIN_URL}: {why}")
    # Two series, K interleaved round by round: every worker posting to one sandbox process (which
    # serves one request at a time), and each worker to its own (as a provider's API is served by
    # many machines, not one thread).
    series = ("shared", "own") if not args.shared_only else ("shared",)
    rates = {s: {k: [] for k in WORKER_COUNTS} for s in series}
    busy = {s: {k: [] for k in WORKER_COUNTS} for s in series}  # cores the machine kept busy
    cpu_ms: dict = {s: {k: [] for k in WORKER_COUNTS} for s in series}  # (workers, sandboxes) per delivery
    try:
        articles = work / "articles"
        single.write_articles(articles, m)
        sandboxes: list[Sandbox] = []
        try:
            for i in range(max(WORKER_COUNTS)):
                port = free_port()
                sandboxes.append(Sandbox(config(work, "sqlite:///" + str(work / "boot.db"), articles, port, f"boot{i}"),
                                         port, work))
            for r in range(rounds):
                for which in series:
                    for k in WORKER_COUNTS:
                        if which == "own" and k == 1:  # one worker, one sandbox: the same round as "shared"'s
                            rates[which][k].append(rates["shared"][k][-1])
                            busy[which][k].append(busy["shared"][k][-1])
                            continue
                        rate, cores, worker_ms, sandbox_ms = one_round(
                            k, m, work, articles, dbs, sandboxes if which == "own" else sandboxes[:1],
                            f"{r}-{which}-{k}")
                        rates[which][k].append(rate)
                        busy[which][k].append(cores)
                        cpu_ms[which][k].append((worker_ms, sandbox_ms))
                        print(f"round {r + 1}: {k} worker(s), {SERIES[which]}: {rate:.0f} deliveries/s", flush=True)
                    dbs.drop_postgres()
        finally:
            for sandbox in sandboxes:
                sandbox.stop()
        # The per-delivery overhead, bench_delivery's way (sandbox in this process).
        overhead = single.run_backend("pg", single_sandbox(work, dbs, articles, m), work, articles, m, rounds,
                                      dbs.postgres)
    finally:
        dbs.drop_postgres()
        if _HANDLE:
            _HANDLE[0].stop()
        shutil.rmtree(work, ignore_errors=True)

    base, disp = statistics.median(overhead["baseline"]), statistics.median(overhead["dispatch"])
    cores = os.cpu_count() or 2
    result: dict = {"deliveries_per_round": m, "rounds": rounds, "cpus": os.cpu_count(),
                    "load_average_at_end": os.getloadavg(), "scaling_target_2_vs_1": 1.8}
    for which in series:
        med = {k: statistics.median(v) for k, v in rates[which].items()}
        prefix = "" if which == "shared" else "own_sandbox_"
        result.update({
            f"{prefix}workers": {str(k): {"deliveries_per_s": round(med[k], 1),
                                          "rounds": [round(x, 1) for x in rates[which][k]]} for k in WORKER_COUNTS},
            f"{prefix}scaling": {f"{k}_vs_1": round(med[k] / med[1], 2) for k in WORKER_COUNTS if k > 1},
            f"{prefix}scaling_rounds": {f"{k}_vs_1": [round(a / b, 2) for a, b in zip(rates[which][k], rates[which][1])]
                                        for k in WORKER_COUNTS if k > 1},
            # Cores the whole machine kept busy (workers, sandboxes, PostgreSQL, this script), and the most
            # two workers could reach if a delivery cost the machine what it costs with one (contention
            # only adds): all its cores busy, cores / (cores busy with one worker) times one worker's rate.
            f"{prefix}machine_cores_busy": {str(k): [round(x, 2) for x in busy[which][k]] for k in WORKER_COUNTS},
            # (bench_scaling_control.py's --client-ms and --server-ms are these, measured)
            f"{prefix}cpu_ms_per_delivery": {str(k): {"workers": [round(w, 2) for w, _ in cpu_ms[which][k]],
                                                      "sandboxes": [round(x, 2) for _, x in cpu_ms[which][k]]}
                                             for k in WORKER_COUNTS if cpu_ms[which][k]},
            f"{prefix}scaling_bound_2_vs_1": {
                "rounds": [round(cores / c, 2) for c in busy[which][1]],
                "median": round(cores / statistics.median(busy[which][1]), 2)},
        })
    result["overhead"] = {
        "raw_send_message_per_s": round(base, 1), "dispatcher_per_s": round(disp, 1),
        "ratio": round(disp / base, 2), "ratio_target": 0.5,
        "ratio_rounds": [round(d / b, 2) for d, b in zip(overhead["dispatch"], overhead["baseline"])],
        "overhead_ms_per_delivery": round(1000 / disp - 1000 / base, 2)}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


_HANDLE: list = []


def single_sandbox(work: Path, dbs: single.Databases, articles: Path, m: int):  # type: ignore[no-untyped-def]
    boot = single.settings_for(work, dbs.sqlite(), articles, 0, "overhead-boot")
    _HANDLE.append(single.start_sandbox(boot, port=0))
    return _HANDLE[0]


if __name__ == "__main__":
    main()
