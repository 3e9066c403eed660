"""Benchmark: the digest to 10k, 100k and 1,000,000 subscribers, and a 1M-row CSV import.

Side by side, in one run, each figure next to its baseline:

  digest N     `run_digest` for one issue to N active subscribers (keyset pages
               of 1,000 from SQLite, a token per reader, batch progress written
               before and after each request) handed to the SendGrid sandbox
  bare N       a loop posting pre-built 1,000-personalization payloads (built by
               the same build_mail from the same issue, for the same readers)
               with the same sendgrid client to the same sandbox: the ceiling
  import N     `distributor subscribers import`'s work (roster.import_csv, with
               --consent) on an N-row CSV into a fresh SQLite database
  insert N     a bare executemany INSERT of the same rows (no validation) into
               a fresh database of the same schema, 5,000 rows a transaction

Every measurement runs in a fresh subprocess, which reports its peak RSS
(VmHWM from /proc/self/status): RSS growth is the 1M figure minus the 10k one.
The sandbox runs in its own subprocess (`distributor sandbox`, rate limits
off), shared by the digest and its baseline.

    .venv/bin/python bench/bench_digest_scale.py            # 10k, 100k, 1M
    .venv/bin/python bench/bench_digest_scale.py --quick    # 10k only

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
import socket
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
    from distributor.newsletter.digest import run_digest
    from distributor.store import Store

    settings = settings_of(cfg)
    with Store.open(settings) as store:
        before = hwm_mb()
        t0 = time.perf_counter()
        result = asyncio.run(run_digest(settings, store, "de", clock=lambda: dt.datetime.now(UTC)))
        seconds = time.perf_counter() - t0
    assert result.status == "sent" and result.detail.startswith(f"{n} recipients"), result.detail
    return {"seconds": seconds, "rate": n / seconds, "hwm_mb": hwm_mb(), "hwm_before_mb": before}


def child_bare(cfg: str, n: int) -> dict:
    """The ceiling: post pre-built 1,000-personalization bodies of the same
    issue (ten distinct batches, cycled) with the same client."""
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
    post = channel.client.client.mail.send.post
    requests = -(-n // 1000)
    before = hwm_mb()
    t0 = time.perf_counter()
    for i in range(requests):
        resp = post(request_body=bodies[i % len(bodies)])
        assert resp.status_code == 202, resp.status_code
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "rate": n / seconds, "hwm_mb": hwm_mb(), "hwm_before_mb": before}


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


CHILDREN = {"seed": child_seed, "digest": child_digest, "bare": child_bare, "import": child_import,
            "insert": child_insert}


def spawn(kind: str, *args: str) -> dict:
    out = subprocess.run([PY, __file__, "--child", kind, *args], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"{kind} {args} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ driver


def human(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else f"{n // 1000}k"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="10k only")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "digest_scale.json"))
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, cfg, n, *rest = args.child
        print(json.dumps(CHILDREN[kind](cfg, int(n), *rest)))
        return
    sizes = [10_000] if args.quick else [10_000, 100_000, 1_000_000]
    import_sizes = [10_000] if args.quick else [100_000, 1_000_000]
    work = Path(tempfile.mkdtemp(prefix="bench-digest-"))
    port = free_port()
    sandbox_cfg = write_config(work, "sandbox", port)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    sandbox = subprocess.Popen([str(Path(PY).parent / "distributor"), "--config", str(sandbox_cfg), "sandbox"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
    results: dict = {"digest": {}, "import": {}, "machine": {"cpus": os.cpu_count()}}
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_sandbox/ping", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        for n in sizes:
            cfg = str(write_config(work, f"digest-{n}", port))
            spawn("seed", cfg, str(n))
            d = spawn("digest", cfg, str(n))
            b = spawn("bare", cfg, str(n))
            results["digest"][n] = {"digest": d, "bare": b, "ratio": d["rate"] / b["rate"]}
            print(f"digest {human(n):>4}: {d['rate']:>9,.0f}/s  bare {b['rate']:>9,.0f}/s  "
                  f"ratio {d['rate'] / b['rate']:.2f}  peak RSS {d['hwm_mb']:.0f} MB", flush=True)
            (work / f"digest-{n}.db").unlink(missing_ok=True)
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
    lo, hi = min(sizes), max(sizes)
    results["digest_rss_growth_mb"] = results["digest"][hi]["digest"]["hwm_mb"] - results["digest"][lo]["digest"]["hwm_mb"]
    ilo, ihi = min(import_sizes), max(import_sizes)
    results["import_rss_growth_mb"] = (results["import"][ihi]["import"]["hwm_mb"]
                                       - results["import"][ilo]["import"]["hwm_mb"])
    print()
    print("| measure | size | rate (/s) | baseline (/s) | ratio | target | peak RSS (MB) |")
    print("| --- | --- | ---: | ---: | ---: | --- | ---: |")
    for n, r in results["digest"].items():
        print(f"| digest → SendGrid sandbox vs bare posting loop | {human(n)} | {r['digest']['rate']:,.0f} | "
              f"{r['bare']['rate']:,.0f} | {r['ratio']:.2f}× | ≥ 0.8× | {r['digest']['hwm_mb']:.0f} |")
    for n, r in results["import"].items():
        print(f"| CSV import vs bare executemany insert | {human(n)} | {r['import']['rate']:,.0f} | "
              f"{r['insert']['rate']:,.0f} | {r['ratio']:.2f}× | ≥ 0.5× | {r['import']['hwm_mb']:.0f} |")
    print(f"\ndigest peak RSS growth {human(lo)} → {human(hi)}: {results['digest_rss_growth_mb']:+.1f} MB "
          f"(target ≤ 100 MB); import {human(ilo)} → {human(ihi)}: {results['import_rss_growth_mb']:+.1f} MB")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"written: {out}")


if __name__ == "__main__":
    main()
