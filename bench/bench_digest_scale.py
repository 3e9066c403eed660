"""Benchmark: the digest to 10k, 100k and 1,000,000 subscribers, and a 1M-row CSV import.

Side by side, in one run, each figure next to its baseline:

  digest N     `run_digest` for one issue to N active subscribers (the issue
               made and rendered, keyset pages of 1,000 from SQLite, a token
               per reader, each batch committed sending before its request and
               sent after it) handed to the SendGrid sandbox
  bare N       a loop posting pre-built 1,000-personalization payloads (built by
               the same build_mail from the same issue, for the same readers)
               with the same sendgrid client to the same sandbox: the ceiling
               the issue names (the client as documented: a dict body, which it
               serialises and formats into a debug line per request)
  prepared N   a stricter ceiling: the same bodies serialised before the clock
               starts (PreparedMail, as the digest makes them while a request
               runs) and posted by the channel's own post_now: the requests only
  import N     `distributor subscribers import`'s work (roster.import_csv, with
               --consent) on an N-row CSV into a fresh SQLite database
  insert N     a bare executemany INSERT of the same rows (no validation) into
               a fresh database of the same schema, 5,000 rows a transaction

Every measurement runs in a fresh subprocess, which reports its peak RSS
(VmHWM from /proc/self/status) and its CPU time: RSS growth is the 1M figure
minus the 10k one. Both sides import their modules before the clock starts.
The sandbox runs in its own subprocess (`distributor sandbox`, rate limits
off), shared by the digest and its baseline, and takes a few baseline posts
before anything is measured. The digest and the baselines alternate, round by
round (which goes first rotates too), each digest on a fresh copy of the
seeded database; a figure is the median of the rounds.

    .venv/bin/python bench/bench_digest_scale.py            # 10k, 100k (3 rounds), 1M (1 round)
    .venv/bin/python bench/bench_digest_scale.py --quick    # 10k only
    options: --rounds N  --big-rounds N (at 1M)  --sizes 10000,100000  --no-import  --out PATH

Prints a table and writes JSON (default bench/results/digest_scale.json).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import json
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PY = sys.executable
UTC = dt.timezone.utc
BATCH = 5000


def hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(work: Path, name: str, port: int) -> Path:
    """The embedded default config: its own database, the sandbox at `port`
    with rate limits off and no event webhook."""
    text = (ROOT / "config" / "distributor.toml").read_text()
    text = re.sub(r'(?m)^url = "sqlite:///[^"]*"', f'url = "sqlite:///{work / (name + ".db")}"', text, count=1)
    text = re.sub(r'(?m)^port = 8765$', f"port = {port}", text, count=1)
    text = re.sub(r'(?m)^event_webhook_url = .*$', 'event_webhook_url = ""\nsendgrid_requests_per_second = 0\n'
                  'autostart = false', text, count=1)
    text = text.replace('path = "../examples/articles"', f'path = "{ROOT / "examples" / "articles"}"')
    path = work / f"{name}.toml"
    path.write_text(text)
    return path


def settings_of(cfg: str):  # noqa: ANN201
    os.environ.pop("DISTRIBUTOR_DATABASE_URL", None)
    from distributor.config import load_settings

    return load_settings(cfg)


# ------------------------------------------------------------------ children


def child_seed(cfg: str, n: int) -> dict:
    """N active subscribers of edition de (not timed), and the articles."""
    import sqlalchemy as sa

    from distributor.ingest.pipeline import ingest
    from distributor.store import Store
    from distributor.store.schema import subscribers

    settings = settings_of(cfg)
    now = dt.datetime.now(UTC)
    with Store.open(settings) as store:
        ingest(settings, store, now=now)
        for start in range(0, n, BATCH):
            rows = [dict(edition="de", email=f"reader{i:07d}@example.org", status="active", status_changed_at=now,
                         active_at=now, consent_at=now, consent_source="bench", consent_text="bench",
                         created_at=now) for i in range(start, min(n, start + BATCH))]
            with store.engine.begin() as conn:
                conn.execute(sa.insert(subscribers), rows)
    return {}


def child_digest(cfg: str, n: int) -> dict:
    # Every module imported before the clock starts, as the baseline's are: the
    # sendgrid client (imported on first use by build_channel, ~45 ms of CPU)
    # is start-up, not the digest's work.
    import distributor.channels.newsletter  # noqa: F401
    from distributor.newsletter.digest import run_digest
    from distributor.store import Store

    settings = settings_of(cfg)
    with Store.open(settings) as store:
        before = hwm_mb()
        t0, c0 = time.perf_counter(), time.process_time()
        result = asyncio.run(run_digest(settings, store, "de", clock=lambda: dt.datetime.now(UTC)))
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert result.status == "sent" and result.detail.startswith(f"{n} recipients"), result.detail
    return {"seconds": seconds, "rate": n / seconds, "cpu_seconds": cpu, "hwm_mb": hwm_mb(), "hwm_before_mb": before}


def child_issue(cfg: str, n: int) -> dict:
    """The issue the baseline's payloads are built from, made as the digest
    makes it (not timed, not sent)."""
    from distributor.newsletter.digest import assemble
    from distributor.store import Store

    settings = settings_of(cfg)
    now = dt.datetime.now(UTC)
    with Store.open(settings) as store:
        assert assemble(settings, store, "de", now.replace(microsecond=0), now) is not None
    return {}


def timed_posts(n: int, post_one) -> dict:  # noqa: ANN001
    """`post_one(i)` for each of the n // 1,000 requests, timed (wall and CPU) with the peak RSS."""
    before = hwm_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(-(-n // 1000)):
        post_one(i)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"seconds": seconds, "rate": n / seconds, "cpu_seconds": cpu, "hwm_mb": hwm_mb(), "hwm_before_mb": before}


def _bare_bodies(cfg: str, n: int):  # noqa: ANN202
    """The channel and the pre-built 1,000-personalization bodies of the same
    issue (ten distinct batches, cycled) the baselines post."""
    from distributor.channels import build_channel
    from distributor.channels.newsletter import build_mail
    from distributor.newsletter.digest import batch_tokens, issue_message
    from distributor.store.issues import Issues
    from distributor.store import Store

    settings = settings_of(cfg)
    with Store.open(settings) as store:
        repo = Issues(store.engine)
        issue = repo.list("de")[-1]
        message = issue_message(issue)
        channel = build_channel(settings, "de.newsletter")
        bodies, after = [], 0
        for _ in range(min(10, -(-n // 1000))):
            page = repo.recipient_page(issue, after)
            after = page[-1][0]
            bodies.append(build_mail(message, batch_tokens(settings, "de", page), from_email=channel.from_email,
                                     from_name=channel.from_name, categories=channel.categories,
                                     custom_args={"issue_id": str(issue.id), "batch": "0"}))
    return channel, bodies


def child_bare(cfg: str, n: int) -> dict:
    """The ceiling: post pre-built 1,000-personalization bodies of the same
    issue (ten distinct batches, cycled) with the same client."""
    channel, bodies = _bare_bodies(cfg, n)
    # The sendgrid client as its documentation uses it (a dict body, which it
    # serialises itself), with the channel's address, key and timeout; the
    # channel's own client posts the JSON text it made ahead (PreparedMail).
    from sendgrid import SendGridAPIClient

    client = SendGridAPIClient(api_key=channel.client.api_key, host=channel.client.host)
    client.client.timeout = channel.client.client.timeout
    post = client.client.mail.send.post

    def one(i: int) -> None:
        resp = post(request_body=bodies[i % len(bodies)])
        assert resp.status_code == 202, resp.status_code

    return timed_posts(n, one)


def child_text(cfg: str, n: int) -> dict:
    """A stricter ceiling: the same bodies serialised before the clock starts
    (PreparedMail, as the digest makes them while a request runs), posted one
    after another by the channel's own `post_now`: nothing left but the
    requests."""
    from distributor.channels.newsletter import PreparedMail

    channel, bodies = _bare_bodies(cfg, n)
    prepared = [PreparedMail(b) for b in bodies]

    def one(i: int) -> None:
        assert channel.post_now(prepared[i % len(prepared)])

    return timed_posts(n, one)


def child_warm(cfg: str, n: int) -> dict:
    """A few baseline posts before anything is measured: the sandbox's first
    Mail Send requests (its lazy imports, its caches) count for neither side."""
    return child_bare(cfg, n)


def child_import(cfg: str, n: int, csv_path: str) -> dict:
    from distributor.newsletter import roster
    from distributor.store import Store

    settings = settings_of(cfg)
    with Store.open(settings) as store:
        before = hwm_mb()
        t0 = time.perf_counter()
        report = roster.import_csv(settings, store, csv_path, "de", consent="bench", now=dt.datetime.now(UTC))
        seconds = time.perf_counter() - t0
    assert report.added == n, report
    return {"seconds": seconds, "rate": n / seconds, "hwm_mb": hwm_mb(), "hwm_before_mb": before}


def child_insert(cfg: str, n: int, csv_path: str) -> dict:
    import sqlalchemy as sa

    from distributor.store import Store
    from distributor.store.schema import subscribers

    settings = settings_of(cfg)
    with Store.open(settings) as store:
        before = hwm_mb()
        t0 = time.perf_counter()
        now = dt.datetime.now(UTC)
        with open(csv_path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            next(reader)
            rows: list[dict] = []
            for row in reader:
                rows.append(dict(edition="de", email=row[1], status="active", status_changed_at=now, active_at=now,
                                 consent_at=now, consent_source="import:bench.csv", consent_text="bench",
                                 created_at=now))
                if len(rows) >= BATCH:
                    with store.engine.begin() as conn:
                        conn.execute(sa.insert(subscribers), rows)
                    rows = []
            if rows:
                with store.engine.begin() as conn:
                    conn.execute(sa.insert(subscribers), rows)
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "rate": n / seconds, "hwm_mb": hwm_mb(), "hwm_before_mb": before}


CHILDREN = {"seed": child_seed, "issue": child_issue, "digest": child_digest, "bare": child_bare, "text": child_text,
            "warm": child_warm, "import": child_import, "insert": child_insert}


def spawn(kind: str, *args: str) -> dict:
    out = subprocess.run([PY, __file__, "--child", kind, *args], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"{kind} {args} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ driver


def human(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else f"{n // 1000}k"


def copy_db(work: Path, src: str, dst: str) -> None:
    """A copy of a database its writers have closed (its WAL checkpointed into the file first)."""
    conn = sqlite3.connect(work / f"{src}.db")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    for suffix in ("-wal", "-shm"):
        (work / f"{dst}.db{suffix}").unlink(missing_ok=True)
    shutil.copyfile(work / f"{src}.db", work / f"{dst}.db")


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="10k only")
    ap.add_argument("--rounds", type=int, default=3, help="digest/baseline rounds below 1M (default 3)")
    ap.add_argument("--big-rounds", type=int, default=1, help="rounds at 1M (default 1)")
    ap.add_argument("--sizes", help="digest sizes, comma-separated (default 10000,100000,1000000)")
    ap.add_argument("--no-import", action="store_true", help="skip the CSV import figures")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "digest_scale.json"))
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, cfg, n, *rest = args.child
        print(json.dumps(CHILDREN[kind](cfg, int(n), *rest)))
        return
    sizes = [10_000] if args.quick else [10_000, 100_000, 1_000_000]
    if args.sizes:
        sizes = [int(x) for x in args.sizes.split(",")]
    import_sizes = [] if args.no_import else [10_000] if args.quick else [100_000, 1_000_000]
    work = Path(tempfile.mkdtemp(prefix="bench-digest-"))
    port = free_port()
    sandbox_cfg = write_config(work, "sandbox", port)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    sandbox = subprocess.Popen([str(Path(PY).parent / "distributor"), "--config", str(sandbox_cfg), "sandbox"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
    results: dict = {"digest": {}, "import": {}, "machine": {"cpus": os.cpu_count(), "load_before": os.getloadavg()}}
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_sandbox/ping", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        for n in sizes:
            # Seeded once (not timed); each digest round runs on a fresh copy. The
            # baseline reads its payloads from a copy with the issue made in it.
            cfg = str(write_config(work, f"digest-{n}", port))
            spawn("seed", cfg, str(n))
            copy_db(work, f"digest-{n}", f"seeded-{n}")
            spawn("issue", cfg, str(n))
            copy_db(work, f"digest-{n}", f"bare-{n}")
            bare_cfg = str(write_config(work, f"bare-{n}", port))
            if n == sizes[0]:
                spawn("warm", bare_cfg, "10000")
            rounds = []
            for r in range(args.big_rounds if n >= 1_000_000 else args.rounds):
                copy_db(work, f"seeded-{n}", f"digest-{n}")
                # Rotating which goes first: no side always gets the sandbox fresh.
                order = ["digest", "bare", "text"]
                order = order[r % 3:] + order[:r % 3]
                got = {k: spawn(k, cfg if k == "digest" else bare_cfg, str(n)) for k in order}
                d, b, t = got["digest"], got["bare"], got["text"]
                rounds.append({"digest": d, "bare": b, "text": t, "ratio": d["rate"] / b["rate"],
                               "strict_ratio": d["rate"] / t["rate"]})
                print(f"digest {human(n):>4} round {r + 1}: {d['rate']:>9,.0f}/s  bare {b['rate']:>9,.0f}/s  "
                      f"ratio {d['rate'] / b['rate']:.2f}  (prepared {t['rate']:>7,.0f}/s: "
                      f"{d['rate'] / t['rate']:.2f})  client CPU/request {1000 * d['cpu_seconds'] / (n / 1000):.1f}"
                      f" vs {1000 * b['cpu_seconds'] / (n / 1000):.1f} ms  peak RSS {d['hwm_mb']:.0f} MB", flush=True)
            dr, br = median([x["digest"]["rate"] for x in rounds]), median([x["bare"]["rate"] for x in rounds])
            tr = median([x["text"]["rate"] for x in rounds])
            results["digest"][n] = {
                "rounds": rounds, "digest_rate": dr, "bare_rate": br, "ratio": dr / br,
                "round_ratios": [x["ratio"] for x in rounds],
                "prepared_rate": tr, "strict_ratio": dr / tr, "round_strict_ratios": [x["strict_ratio"] for x in rounds],
                "digest_cpu_ms_per_request": median([x["digest"]["cpu_seconds"] for x in rounds]) / (n / 1000) * 1000,
                "bare_cpu_ms_per_request": median([x["bare"]["cpu_seconds"] for x in rounds]) / (n / 1000) * 1000,
                "hwm_mb": max(x["digest"]["hwm_mb"] for x in rounds)}
            for p in work.glob(f"*-{n}.db*"):
                p.unlink()
        for n in import_sizes:
            csv_path = work / f"readers-{n}.csv"
            with csv_path.open("w", encoding="utf-8", newline="") as f:
                w = csv.writer(f)
                w.writerow(["name", "email"])
                for i in range(n):
                    w.writerow([f"Reader {i}", f"Reader{i:07d}@Example.org"])
            imp = spawn("import", str(write_config(work, f"import-{n}", port)), str(n), str(csv_path))
            ins = spawn("insert", str(write_config(work, f"insert-{n}", port)), str(n), str(csv_path))
            results["import"][n] = {"import": imp, "insert": ins, "ratio": imp["rate"] / ins["rate"]}
            print(f"import {human(n):>4}: {imp['rate']:>9,.0f}/s  insert {ins['rate']:>9,.0f}/s  "
                  f"ratio {imp['rate'] / ins['rate']:.2f}  peak RSS {imp['hwm_mb']:.0f} MB", flush=True)
            for p in work.glob(f"*-{n}.db*"):
                p.unlink()
            csv_path.unlink()
    finally:
        sandbox.terminate()
        sandbox.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    results["machine"]["load_after"] = os.getloadavg()
    lo, hi = min(sizes), max(sizes)
    results["digest_rss_growth_mb"] = results["digest"][hi]["hwm_mb"] - results["digest"][lo]["hwm_mb"]
    if import_sizes:
        ilo, ihi = min(import_sizes), max(import_sizes)
        results["import_rss_growth_mb"] = (results["import"][ihi]["import"]["hwm_mb"]
                                           - results["import"][ilo]["import"]["hwm_mb"])
    print()
    print("| measure | size | rate (/s) | baseline (/s) | ratio (rounds) | target | client CPU / request (ms) "
          "| peak RSS (MB) |")
    print("| --- | --- | ---: | ---: | ---: | --- | ---: | ---: |")
    for n, r in results["digest"].items():
        each = ", ".join(f"{x:.2f}" for x in r["round_ratios"])
        print(f"| digest → SendGrid sandbox vs bare posting loop | {human(n)} | {r['digest_rate']:,.0f} | "
              f"{r['bare_rate']:,.0f} | {r['ratio']:.2f}× ({each}) | ≥ 0.8× | {r['digest_cpu_ms_per_request']:.1f} "
              f"vs {r['bare_cpu_ms_per_request']:.1f} | {r['hwm_mb']:.0f} |")
    for n, r in results["digest"].items():
        each = ", ".join(f"{x:.2f}" for x in r["round_strict_ratios"])
        print(f"| digest vs posting the bodies prepared (channel's post_now) | {human(n)} | {r['digest_rate']:,.0f} | "
              f"{r['prepared_rate']:,.0f} | {r['strict_ratio']:.2f}× ({each}) | | | |")
    for n, r in results["import"].items():
        print(f"| CSV import vs bare executemany insert | {human(n)} | {r['import']['rate']:,.0f} | "
              f"{r['insert']['rate']:,.0f} | {r['ratio']:.2f}× | ≥ 0.5× | | {r['import']['hwm_mb']:.0f} |")
    print(f"\ndigest peak RSS growth {human(lo)} → {human(hi)}: {results['digest_rss_growth_mb']:+.1f} MB "
          f"(target ≤ 100 MB)" + (f"; import {human(ilo)} → {human(ihi)}: {results['import_rss_growth_mb']:+.1f} MB"
                                  if import_sizes else ""))
    print(f"load average before/after: {results['machine']['load_before'][0]:.1f} / "
          f"{results['machine']['load_after'][0]:.1f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"written: {out}")


if __name__ == "__main__":
    main()
