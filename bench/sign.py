"""How many signatures per second one machine accepts, next to a trivial view and count reads.

    .venv/bin/python bench/sign.py [--seconds N] [--database sqlite|postgres]
    scripts/with-postgres .venv/bin/python bench/sign.py --database postgres

Sets up a fresh instance in a temporary folder (a new SQLite file, or the PostgreSQL database
that DATABASE_URL names), creates and publishes the letter ``bench``, starts the production
server (``undersigned serve``) and loads it with wrk (and bench/sign.lua) on loopback, each
figure for a fixed time after a short warm-up:

- GET /ping, the baseline: the whole middleware stack and a view, no database (the ceiling
  for a Django view on this machine);
- GET /health: the same plus one ``SELECT 1``;
- GET /api/v1/letters/bench/count, the live counter's read;
- POST /api/v1/letters/bench/signatures with a new email each time. Only 202 answers count,
  and the signatures taken in (intake rows; no worker runs to record them) are counted
  afterwards to check them.

Besides requests per second it reports the CPU time that the app server (and PostgreSQL, when
scripts/with-postgres started it) spent per request, which depends less on whatever else the
machine is doing, and how busy other processes kept the machine meanwhile.

No worker runs, so signatures stay in the intake (EMAIL_URL points at a closed port in case
one did). Prints a table and writes it as JSON to bench/results/sign-<database>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402  (after the path is set)
    BUSY_WARNING,
    RESULTS,
    ROOT,
    BenchError,
    Load,
    check_database,
    database_info,
    figure,
    free_port,
    git_commit,
    machine,
    machine_busy_share,
    manage,
    ms,
    new_instance,
    postmaster_pid,
    start_server,
    stop,
)

SLUG = "bench"
SETTLE_SECONDS = 10  # for requests still in flight when wrk stops to finish

# Run by `undersigned shell -c`: the letter's rows, and the database with the settings that
# decide how fast a commit is.
COUNT_ROWS = f"""
import json
from undersigned.signatures.models import Intake, Signature
print(json.dumps({{
    "signatures": Signature.objects.filter(letter__slug={SLUG!r}).count()
    + Intake.objects.filter(letter__slug={SLUG!r}).count(),
}}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each measured run")
    parser.add_argument("--warmup", type=int, default=2, help="length of each warm-up run")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--server-threads", type=int, default=4, help="threads per server worker process"
    )
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    args = parser.parse_args()
    if not 1 <= args.seconds <= 600 or not 0 <= args.warmup <= 60:
        parser.error("--seconds must be 1-600 and --warmup 0-60")
    if not 1 <= args.workers <= 64 or not 1 <= args.threads <= args.connections <= 1000:
        parser.error("--workers must be 1-64, and 1 <= --threads <= --connections <= 1000")
    check_database(parser, args.database)
    try:
        with tempfile.TemporaryDirectory(prefix="undersigned-bench-") as tmp:
            report = run(args, Path(tmp))
    except BenchError as exc:
        print(f"bench/sign.py: {exc}", file=sys.stderr)
        return 1
    print_report(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"sign-{args.database}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nWritten to {path.relative_to(ROOT)}.")
    return 0 if report["signatures"]["agree"] else 2


def run(args, tmp: Path) -> dict:
    env = new_instance(args.database, tmp, SLUG)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp / "server.log"
    server = start_server(env, tmp, log, port, args.workers, args.server_threads)
    try:
        busy_before = machine_busy_share(1.0)
        load = Load(args, base, {"app": server.pid, "db": postmaster_pid(args.database)})
        ping = load.measure("get", "/ping")
        health = load.measure("get", "/health")
        reads = load.measure("get", f"/api/v1/letters/{SLUG}/count")
        signing = f"/api/v1/letters/{SLUG}/signatures"
        load.warm_up("sign", signing)
        before = settled_rows(env)
        signs = load.run("sign", signing)
        after = settled_rows(env)
    finally:
        stop(server)
        RESULTS.mkdir(parents=True, exist_ok=True)
        server_log = RESULTS / f"sign-{args.database}-server.log"
        server_log.write_bytes(log.read_bytes())
    accepted = signs["statuses"].get("202", 0)
    new_rows = after["signatures"] - before["signatures"]
    # wrk drops the responses still in flight when its time is up, but the server finishes
    # those requests: up to one per connection can add a row that no 202 was counted for.
    in_flight = new_rows - accepted
    return {
        "machine": machine(database_info(env), busy_before),
        "setup": {
            "commit": git_commit(),
            "server": f"undersigned serve --workers {args.workers} "
            f"--threads {args.server_threads} (Granian, WSGI)",
            "load": f"wrk -t{args.threads} -c{args.connections} -d{args.seconds}s "
            f"after a {args.warmup}s warm-up, on 127.0.0.1",
            "seconds": args.seconds,
            "warmup_seconds": args.warmup,
            "workers": args.workers,
            "wrk_threads": args.threads,
            "connections": args.connections,
            "server_log": str(server_log.relative_to(ROOT)),
        },
        "figures": [
            figure("GET /ping (baseline: no database)", ping, ping),
            figure("GET /health (SELECT 1)", health, ping),
            figure(f"GET /api/v1/letters/{SLUG}/count", reads, ping),
            figure(f"POST /api/v1/letters/{SLUG}/signatures", signs, ping, status="202"),
        ],
        "signatures": {
            "accepted_202": accepted,
            "new_rows": new_rows,
            "in_flight_at_stop": in_flight,
            "agree": 0 <= in_flight <= args.connections,
        },
    }


def count_rows(env: dict) -> dict:
    return json.loads(manage(env, "shell", "-c", COUNT_ROWS).strip().splitlines()[-1])


def settled_rows(env: dict) -> dict:
    """Count rows once the server has finished what was in flight (the count stops moving)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    rows = count_rows(env)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        again = count_rows(env)
        if again["signatures"] == rows["signatures"]:
            return again
        rows = again
    raise BenchError(f"the number of signatures still grew {SETTLE_SECONDS} s after the load")


def print_report(report: dict) -> None:
    m, s = report["machine"], report["setup"]
    print(f"Machine: {m['cores']} cores, {m['cpu']}, Python {m['python']}, {m['database']}")
    print(f"Server: {s['server']} at {s['commit']}; load: {s['load']}")
    print()
    width = max(len(f["figure"]) for f in report["figures"])
    db = "db" in report["figures"][0]["cpu_ms_per_request"]
    print(
        f"{'figure':<{width}}  {'requests/s':>10}  {'ratio':>5}  {'p50 ms':>6}  {'p99 ms':>6}  "
        f"{'app CPU ms/req':>14}" + (f"  {'db CPU ms/req':>13}" if db else "")
    )
    for f in report["figures"]:
        cpu = f["cpu_ms_per_request"]
        print(
            f"{f['figure']:<{width}}  {f['per_second']:>10.1f}  {f['ratio_to_baseline']:>5.2f}  "
            f"{f['p50_ms']:>6.1f}  {f['p99_ms']:>6.1f}  {ms(cpu['app']):>14}"
            + (f"  {ms(cpu['db']):>13}" if db else "")
        )
    print("(requests/s counts 200 answers, and 202 answers for the POST; ratio: to the baseline)")
    unexpected = False
    for f in report["figures"]:
        if set(f["responses"]) - {"200", "202"} or f["errors"]:
            unexpected = True
            print(f"  {f['figure']}: answers {f['responses']}, errors {f['errors'] or 'none'}")
    if unexpected:
        print(f"  The server's log is in {s['server_log']}.")
    sig = report["signatures"]
    print()
    print(
        f"Signatures: {sig['accepted_202']} answered 202; {sig['new_rows']} new rows in the "
        f"intake (no worker runs to record them) or signatures ({sig['in_flight_at_stop']} "
        "more: requests in flight when wrk stopped)."
    )
    if not sig["agree"]:
        print("MISMATCH: the database does not account for the 202 answers.")
    busy = [m["busy_before_load"]] + [f["other_busy_share"] for f in report["figures"]]
    if max(busy) > BUSY_WARNING:
        print(
            f"WARNING: other processes kept the machine busy ({busy[0]:.0%} before the load; "
            f"{', '.join(f'{b:.0%}' for b in busy[1:])} of it during the three runs): "
            "requests/s are low and noisy; compare CPU ms/req rather than requests/s."
        )


if __name__ == "__main__":
    sys.exit(main())
