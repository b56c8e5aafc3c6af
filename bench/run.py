"""Every figure of the surge benchmark (issue 4) in one run, as one table.

    .venv/bin/python bench/run.py [--database sqlite|postgres] [--seconds N] [--quick]
    scripts/with-postgres .venv/bin/python bench/run.py --database postgres

On a fresh instance in a temporary folder (a new SQLite file, or the PostgreSQL database that
DATABASE_URL names), with the production server (``undersigned serve --workers 2 --threads
4``) on loopback and load from wrk (bench/sign.lua, bench/confirm.lua) in its own process:

1. signatures accepted per second: POST /api/v1/letters/<slug>/signatures, a new email each
   time (202 answers);
2. confirmations per second: POST /v/<token> for pending signatures made beforehand with
   known tokens, each token once (200 answers; the database is checked afterwards);
3. count reads per second: GET /api/v1/letters/<slug>/count;
4. letter page views per second: GET /l/<slug>/ with 50 signatories shown;
5. 1-4 on a letter with 1,000,000 confirmed signatures (loaded in bulk) against the same on
   a letter with 1,000. 1-4 are also measured once on the small letter before the bulk load
   (in the details): whether a big *table* (not letter) slows anything down;
6. mails delivered per second by one ``undersigned worker`` to a local SMTP server
   (bench/smtp_sink.py, aiosmtpd in its own process), from first to last mail received;
7. ``undersigned letter export <1M letter> --format csv``: wall time and peak memory (RSS);
8. sign-to-counted latency: with the worker running, a paced client signs at 200/s, confirms
   each signature as soon as its mail reaches the SMTP server, and polls the count endpoint
   (and, in another process, the letter row); p50/p99 of time counted minus time confirmed.

Each of 1-5 is also given as a ratio to GET /ping (a view that touches no database: the
ceiling for a Django view on this machine), measured by the same server, and as the same ratio
of CPU time per answer (app server plus PostgreSQL), which the other load on a shared machine
disturbs less. For the table, /ping, the small letter and the big one are measured in short
slices, interleaved (ping, small, big, then big, small, ping, ... six rounds of 2 s each), and
each ratio is the ratio of their sums: a 10 s run of one request on this VM moves by up to a
fifth from one run to the next, and slices side by side see the same machine. The table
gives each ratio's spread over the rounds too. No worker runs during 1-5 (mail waits in the
outbox, confirmations in the count journal).

``--quick`` measures 5 s instead of 10 (four rounds of 1 s slices instead of six of 2 s),
loads 100,000 signatures instead of 1,000,000 (and says so in the table), queues 2,000 mails
instead of 5,000 and paces 10 s instead of 20.
``--py-spy PATH`` records a profile (py-spy, outside the project's venv) of the server during
1 and 2 (the runs before the bulk load), of the worker during 6 and 8, and of the export (7);
the profiler costs CPU, so such a run's figures are not for the table (they go to
run-<database>-profiled.json).

Prints the machine, a markdown table for BENCHMARKS.md and details; writes everything as
JSON to bench/results/run-<database>.json (run-<database>-quick.json with --quick).
``bench/run.py --report FILE`` prints a saved run's report again.
"""

from __future__ import annotations

import argparse
import bisect
import http.client
import json
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402  (after the path is set)
    BENCH,
    BIN,
    BUSY_WARNING,
    RESULTS,
    ROOT,
    SIGN_LUA,
    BenchError,
    Load,
    check_database,
    cpu_used,
    database_info,
    figure,
    free_port,
    git_commit,
    instance_env,
    machine,
    machine_busy_share,
    machine_cpu,
    manage,
    postmaster_pid,
    process_tree_cpu,
    rate,
    shell_json,
    start,
    start_server,
    stop,
    tail,
)

CONFIRM_LUA = BENCH / "confirm.lua"
SINK = BENCH / "smtp_sink.py"
DBTASKS = BENCH / "dbtasks.py"
SMALL, BIG, LIVE = "thousand", "million", "live"
SMALL_ROWS = 1000
MAX_CONFIRM_RATE = 8000  # tokens made per measured second: twice what a 2 s slice has reached
KINDS = ("ping", "small", "big")  # what the interleaved slices measure, in a round's order
SETTLE_SECONDS = 15
ORGANIZER_KEYS = 2  # the small letter's organizers with a key: hidden names are sealed to each
DISPLAYS = ("public", "hidden", "count")
LETTER_BODY = """We, the undersigned, ask the board to cancel the contract.

## Why

The contract puts the people we build for at risk. We did not join to build this, and we
will not stay silent about it.

## What we ask

1. Cancel the contract before it is renewed.
2. Publish the criteria used to take such contracts.
3. Give employees a say in the next one.

Signed in good faith, by the people below.
"""
TARGETS = {  # ratio to /ping, for 1-4
    "sign": 0.25,
    "confirm": 0.25,
    "count": 0.80,
    "page": 0.15,
    "badge": 0.50,  # at the big letter
    "timeline": 0.50,  # at the big letter
}
FLAT = 0.9
MAIL_TARGET = 300
EXPORT_SECONDS, EXPORT_MB = 15, 150
# The worker's count of organizations: no step may hold its other jobs up longer than this.
ORGANIZATION_STEP_MS = 250
LATENCY_P99 = 3.0
NAMES = {
    "sign": "signatures accepted (API sign, unique emails)",
    "confirm": "confirmations (POST /v/<token>)",
    "count": "count reads (GET …/count)",
    "page": "letter page views (50 signatories shown)",
    "badge": "badge reads (GET /l/<slug>/badge.svg)",
    "timeline": "growth timeline reads (GET …/timeline?bucket=hour)",
}
SPREAD = ("badge", "timeline")  # measured side by side too; targeted at the big letter


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seconds", type=int, help="length of each measured wrk run (10)")
    parser.add_argument("--warmup", type=int, help="length of each warm-up run (2)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds for the table (6)")
    parser.add_argument("--slice", type=int, help="length of each slice of a round (2)")
    parser.add_argument("--quick", action="store_true", help="about 3 minutes; see the top")
    parser.add_argument("--big", type=int, help="signatures on the big letter (1,000,000)")
    parser.add_argument("--mails", type=int, help="mails queued for the worker (5,000)")
    parser.add_argument("--latency-seconds", type=int, help="length of the paced run (20)")
    parser.add_argument("--latency-rate", type=int, default=200, help="signatures a second")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--server-threads", type=int, default=4, help="threads per worker")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--py-spy", metavar="PATH", help="profile with this py-spy binary")
    args = parser.parse_args()
    quick = args.quick
    args.seconds = args.seconds or (5 if quick else 10)
    args.warmup = args.warmup if args.warmup is not None else (1 if quick else 2)
    args.rounds = args.rounds or (4 if quick else 6)
    args.slice = args.slice or (1 if quick else 2)
    args.big = args.big or (100_000 if quick else 1_000_000)
    args.mails = args.mails or (2000 if quick else 5000)
    args.latency_seconds = args.latency_seconds or (10 if quick else 20)
    if not 1 <= args.seconds <= 120 or not 0 <= args.warmup <= 30:
        parser.error("--seconds must be 1-120 and --warmup 0-30")
    if not 2 <= args.rounds <= 20 or args.rounds % 2 or not 1 <= args.slice <= 30:
        parser.error("--rounds must be even, 2-20, and --slice 1-30")
    if not SMALL_ROWS < args.big <= 5_000_000 or not 100 <= args.mails <= 50_000:
        parser.error("--big must be 1,001-5,000,000 and --mails 100-50,000")
    if not 5 <= args.latency_seconds <= 120 or not 10 <= args.latency_rate <= 2000:
        parser.error("--latency-seconds must be 5-120 and --latency-rate 10-2000")
    if not 1 <= args.workers <= 16 or not 1 <= args.threads <= args.connections <= 1000:
        parser.error("--workers must be 1-16, and 1 <= --threads <= --connections <= 1000")
    check_database(parser, args.database)
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="undersigned-run-") as tmp:
            report = Run(args, Path(tmp)).run()
    except BenchError as exc:
        print(f"bench/run.py: {exc}", file=sys.stderr)
        return 1
    report["setup"]["total_seconds"] = time.monotonic() - started
    RESULTS.mkdir(parents=True, exist_ok=True)
    # A profiled or quick run does not replace the full run's file (which BENCHMARKS.md cites).
    suffix = "-profiled" if args.py_spy else "-quick" if args.quick else ""
    path = RESULTS / f"run-{args.database}{suffix}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print_report(report)
    print(f"\nWritten to {path.relative_to(ROOT)} in {report['setup']['total_seconds']:.0f} s.")
    return 0 if not report["problems"] else 2


class Run:
    def __init__(self, args, tmp: Path):
        self.args = args
        self.tmp = tmp
        self.env = instance_env(args.database, tmp)
        self.db_pid = postmaster_pid(args.database)
        self.log = RESULTS / f"run-{args.database}-server.log"
        self.problems: list[str] = []
        self.profiles: dict[str, dict] = {}

    # --- set-up -------------------------------------------------------------------------

    def task(self, *argv, timeout: int = 120) -> dict:
        return shell_json(self.env, task_line(*argv), timeout=timeout)

    def run(self) -> dict:
        args, tmp = self.args, self.tmp
        (tmp / "data").mkdir()
        RESULTS.mkdir(parents=True, exist_ok=True)
        self.log.write_text("")
        body = tmp / "letter.md"
        body.write_text(LETTER_BODY)
        manage(self.env, "migrate", "--no-input", "-v", "0")
        for slug in (SMALL, BIG, LIVE):
            title = f"Open letter ({slug})"
            manage(
                self.env, "letter", "create", slug, "--title", title, "--body-file", str(body),
                "--publish",
            )  # fmt: skip
        loads = {SMALL: self.task("load", SMALL, SMALL_ROWS)}
        self.task("keys", SMALL, ORGANIZER_KEYS)
        self.tokens = self.make_tokens(SMALL, "a", {"warm": args.warmup, "run": args.seconds})
        database = database_info(self.env)
        busy_before = machine_busy_share(1.0)
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        server = start_server(self.env, tmp, self.log, port, args.workers, args.server_threads)
        try:
            self.load = Load(args, self.base, {"app": server.pid, "db": self.db_pid})
            self.server_pid = server.pid
            before_load = self.before_load()
            print(f"Loading {args.big:,} signatures ...", file=sys.stderr, flush=True)
            loads[BIG] = self.task("load", BIG, args.big, timeout=1200)
            figures = self.side_by_side()
            figures["sign-display"] = self.displays()
        finally:
            stop(server)
        export = self.export()
        print("Counting organizations ...", file=sys.stderr, flush=True)
        organizations = self.task("organizations", timeout=1200)
        mail = self.mail()
        latency = self.latency()
        return {
            "machine": machine(database, busy_before),
            "setup": {
                "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                "commit": git_commit(),
                "database": args.database,
                "quick": args.quick,
                "big_rows": args.big,
                "server": f"undersigned serve --workers {args.workers} "
                f"--threads {args.server_threads} (Granian, WSGI)",
                "load": f"wrk -t{args.threads} -c{args.connections} -d{args.seconds}s "
                f"after a {args.warmup}s warm-up, on 127.0.0.1",
                "slices": f"{args.rounds} interleaved rounds of {args.slice} s slices",
                "profiled": bool(args.py_spy),
                "bulk_loads": loads,
                "server_log": str(self.log.relative_to(ROOT)),
            },
            "figures": figures,
            "before_load": before_load,
            "mail": mail,
            "export": export,
            "organizations": organizations,
            "latency": latency,
            "profiles": self.profiles,
            "problems": self.problems,
        }

    def make_tokens(self, slug: str, label: str, runs: dict[str, int]) -> dict[str, Path]:
        """Pending signatures with known tokens, a file for each run (name: seconds); made in
        one go and split, as confirm.lua reads each file from its start."""
        sizes = {run: MAX_CONFIRM_RATE * max(seconds, 1) for run, seconds in runs.items()}
        path = self.tmp / f"{slug}-{label}.txt"
        self.task("pending", slug, sum(sizes.values()), path, f"p{label}")
        lines = path.read_text().splitlines(keepends=True)
        files = {}
        for run, n in sizes.items():
            files[run] = self.tmp / f"{slug}-{label}-{run}.txt"
            files[run].write_text("".join(lines[:n]))
            del lines[:n]
        return files

    # --- 1-5 ----------------------------------------------------------------------------

    def before_load(self) -> dict:
        """1-4 on the small letter before the big one is loaded: whether a big table (rather
        than a big letter) slows anything down shows against the same figures later."""
        print(f"Measuring on {SMALL!r}, before the bulk load ...", file=sys.stderr, flush=True)
        ping = self.load.measure("get", "/ping")
        figures = {"ping": figure("GET /ping", ping, ping)}
        for key in ("count", "page", "sign", "confirm"):
            figures[key] = self.measure(key, SMALL, ping)
        return figures

    def side_by_side(self) -> dict:
        """For each figure: /ping, the small letter and the big one in short slices, side by
        side (ping, small, big; big, small, ping; ...), each kind's slices summed: whatever
        else the machine does meanwhile falls on all three alike."""
        args = self.args
        letters = {"small": SMALL, "big": BIG}
        figures = {}
        for key in ("count", "page", *SPREAD, "sign", "confirm"):
            print(f"Measuring {key} on both letters ...", file=sys.stderr, flush=True)
            paths = {"ping": "/ping"} | {k: self.path(key, slug) for k, slug in letters.items()}
            mode = {"sign": "sign", "confirm": "confirm"}.get(key, "get")
            tokens = {}
            if key == "confirm":
                runs = {"warm": args.warmup} | {str(r): args.slice for r in range(args.rounds)}
                tokens = {k: self.make_tokens(slug, "b", runs) for k, slug in letters.items()}
            for kind in KINDS:
                if args.warmup:
                    extra = (tokens[kind]["warm"], args.threads) if kind in tokens else ()
                    self.load.wrk(self.mode(kind, mode), paths[kind], args.warmup, *script(extra))
            column = {"sign": "taken", "confirm": "confirmed"}.get(key)
            before = {k: self.settled(slug, column) for k, slug in letters.items() if column}
            slices: dict[str, list[dict]] = {kind: [] for kind in KINDS}
            for r in range(args.rounds):
                for kind in KINDS if r % 2 == 0 else KINDS[::-1]:
                    extra = (tokens[kind][str(r)], args.threads) if kind in tokens else ()
                    result = self.load.run(
                        self.mode(kind, mode), paths[kind], *script(extra), seconds=args.slice
                    )
                    if result["statuses"].get("exhausted"):
                        self.problems.append(f"confirm on the {kind} letter: tokens ran out")
                    slices[kind].append(result)
            ping = merged(slices["ping"])
            figures[key] = {"ping": figure("GET /ping, in the same rounds", ping, ping)}
            status = "202" if key == "sign" else "200"
            for kind, slug in letters.items():
                f = figure(NAMES[key], merged(slices[kind]), ping, status=status)
                f["round_ratios"] = [
                    rate(mine, status) / rate(theirs, "200") if rate(theirs, "200") else 0.0
                    for mine, theirs in zip(slices[kind], slices["ping"], strict=True)
                ]
                if not all(rate(theirs, "200") for theirs in slices["ping"]):
                    self.problems.append(f"{key}: /ping got no answer in a slice (server stuck)")
                if column:
                    after = self.settled(slug, column)[column]
                    answered = f["responses"].get(status, 0)
                    # Each slice's wrk may leave up to one request per connection unanswered.
                    slack = args.connections * args.rounds
                    f["check"] = self.check(
                        key, slug, answered, after - before[kind][column], slack
                    )
                figures[key][kind] = f
            if not all(rate(small, status) for small in slices["small"]):
                self.problems.append(f"{key}: the small letter got no answer in a slice")
            figures[key]["big"]["round_flatness"] = [
                rate(big, status) / rate(small, status) if rate(small, status) else 0.0
                for big, small in zip(slices["big"], slices["small"], strict=True)
            ]
        return figures

    def displays(self) -> dict:
        """Signing with each display choice, on the small letter (whose hidden signers' names
        are sealed to ORGANIZER_KEYS keys), in interleaved slices with /ping: an employee
        letter is signed mostly hidden and count-only."""
        args = self.args
        print("Measuring signing with each display choice ...", file=sys.stderr, flush=True)
        kinds = ("ping", *DISPLAYS)
        signing = self.path("sign", SMALL)

        def run(kind: str, seconds: int) -> dict:
            if kind == "ping":
                return self.load.run("get", "/ping", seconds=seconds)
            return self.load.run("sign", signing, SIGN_LUA, (kind,), seconds=seconds)

        for kind in kinds:
            if args.warmup:
                run(kind, args.warmup)
        before = self.settled(SMALL, "taken")
        slices: dict[str, list[dict]] = {kind: [] for kind in kinds}
        for r in range(args.rounds):
            for kind in kinds if r % 2 == 0 else kinds[::-1]:
                slices[kind].append(run(kind, args.slice))
        ping = merged(slices["ping"])
        figures = {"ping": figure("GET /ping, in the same rounds", ping, ping)}
        for kind in DISPLAYS:
            f = figure(f"signatures accepted, display={kind}", merged(slices[kind]), ping, "202")
            f["round_ratios"] = [
                rate(mine, "202") / rate(theirs, "200")
                for mine, theirs in zip(slices[kind], slices["ping"], strict=True)
            ]
            figures[kind] = f
        answered = sum(figures[kind]["responses"].get("202", 0) for kind in DISPLAYS)
        after = self.settled(SMALL, "taken")["taken"]
        slack = args.connections * args.rounds * len(DISPLAYS)
        figures["public"]["check"] = self.check(
            "sign", SMALL, answered, after - before["taken"], slack
        )
        return figures

    @staticmethod
    def mode(kind: str, mode: str) -> str:
        return "get" if kind == "ping" else mode

    def path(self, key: str, slug: str) -> str:
        if key == "count":
            return f"/api/v1/letters/{slug}/count"
        if key == "page":
            shown = self.signatories_shown(slug)
            if shown != 50:
                self.problems.append(f"/l/{slug}/ shows {shown} signatories, not 50")
            return f"/l/{slug}/"
        if key == "sign":
            return f"/api/v1/letters/{slug}/signatures"
        if key == "badge":
            return f"/l/{slug}/badge.svg"
        if key == "timeline":
            return f"/api/v1/letters/{slug}/timeline?bucket=hour"
        return "/"

    def measure(self, key: str, slug: str, ping: dict) -> dict:
        """One figure in one run (with py-spy, when asked, for signing and confirming)."""
        load = self.load
        if key in ("count", "page", *SPREAD):
            return figure(NAMES[key], load.measure("get", self.path(key, slug)), ping)
        if key == "sign":
            signing = self.path(key, slug)
            load.warm_up("sign", signing)
            before = self.settled(slug, "taken")
            name = f"server-sign-{slug}"
            result = self.profiled(name, self.server_pid, "sign", signing)
            after = self.settled(slug, "taken")
            accepted = result["statuses"].get("202", 0)
            check = self.check("sign", slug, accepted, after["taken"] - before["taken"])
            return {**figure(NAMES[key], result, ping, status="202"), "check": check}
        threads = self.args.threads
        if self.args.warmup:
            load.wrk("confirm", "/", self.args.warmup, CONFIRM_LUA, (self.tokens["warm"], threads))
        before = self.settled(slug, "confirmed")
        run = (self.tokens["run"], threads)
        result = self.profiled(
            f"server-confirm-{slug}", self.server_pid, "confirm", "/", CONFIRM_LUA, run
        )
        after = self.settled(slug, "confirmed")
        confirmed = result["statuses"].get("200", 0)
        check = self.check("confirm", slug, confirmed, after["confirmed"] - before["confirmed"])
        if result["statuses"].get("exhausted"):
            self.problems.append(f"confirm on {slug!r}: tokens ran out; the rate is a lower bound")
        return {
            **figure(NAMES[key], result, ping),
            "check": check,
            "confirmed_before": before["confirmed"],
        }

    def profiled(self, name: str, pid: int, mode: str, path: str, *script) -> dict:
        spy = self.py_spy(name, pid, self.args.seconds)
        try:
            return self.load.run(mode, path, *script)
        finally:
            self.end_py_spy(name, spy)

    def signatories_shown(self, slug: str) -> int:
        page = http_get(self.base, f"/l/{slug}/")
        return page.count('<span class="name">')

    def settled(self, slug: str, key: str) -> dict:
        """The letter's rows once the server has finished what was in flight."""
        deadline = time.monotonic() + SETTLE_SECONDS
        rows = self.task("rows", slug)
        while time.monotonic() < deadline:
            time.sleep(0.3)
            again = self.task("rows", slug)
            if again[key] == rows[key]:
                return again
            rows = again
        raise BenchError(f"{key} signatures on {slug!r} still changed {SETTLE_SECONDS} s later")

    def check(self, what: str, slug: str, answered: int, rows: int, slack: int = 0) -> dict:
        # wrk drops the answers still in flight when its time is up, but the server finishes
        # those requests: up to one per connection can change a row that no answer counted.
        agree = 0 <= rows - answered <= (slack or self.args.connections)
        if not agree:
            self.problems.append(
                f"{what} on {slug!r}: {answered} answers but {rows} rows changed in the database"
            )
        return {"answers": answered, "rows": rows, "agree": agree}

    # --- 7: export ----------------------------------------------------------------------

    def export(self) -> dict:
        print("Exporting ...", file=sys.stderr, flush=True)
        expected = self.task("rows", BIG)["confirmed"]
        command = [BIN / "undersigned", "letter", "export", BIG, "--format", "csv"]
        out = RESULTS / f"profile-{self.args.database}-export.txt"
        if self.args.py_spy:
            spy = [self.args.py_spy, "record", "--format", "raw", "--output", str(out)]
            command = [*spy, "--rate", "97", "--", *command]
        wrapper = [sys.executable, str(BENCH / "run.py"), "--measure-export"]
        try:
            done = subprocess.run(
                [*wrapper, *map(str, command)],
                env=self.env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise BenchError("the export took more than 600 s") from None
        if done.returncode != 0:
            raise BenchError(f"the export failed:\n{done.stderr[-3000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["expected_rows"] = expected
        if self.args.py_spy and out.exists():
            self.profiles["export"] = summarize_profile(out)
        if result["rows"] != expected:
            self.problems.append(f"export wrote {result['rows']} rows, not {expected}")
        return result

    # --- 6: mail ------------------------------------------------------------------------

    def mail(self) -> dict:
        print("Sending mail ...", file=sys.stderr, flush=True)
        n = self.args.mails
        queued = self.task("outbox", n)
        sink_log = self.tmp / "mail.log"
        sink, port = self.start_sink(sink_log, tokens=False)
        env = {**self.env, "EMAIL_URL": f"smtp://127.0.0.1:{port}"}
        worker = None
        spy = None
        try:
            started = time.time()
            worker = start([BIN / "undersigned", "worker"], env, self.tmp, self.log)
            spy = self.py_spy("worker-mail", worker.pid, 60)
            deadline = time.monotonic() + max(60, n / 50)
            sink_before = process_tree_cpu(sink.pid)
            db_before = process_tree_cpu(self.db_pid) if self.db_pid else {}
            total_before, idle_before = machine_cpu()
            while time.monotonic() < deadline and line_count(sink_log) < n:
                if worker.poll() is not None:
                    raise BenchError(f"the worker exited:\n{tail(self.log)}")
                time.sleep(0.1)
            cpu = {
                "worker": sum(process_tree_cpu(worker.pid).values()),
                "sink": cpu_used(sink_before, process_tree_cpu(sink.pid)),
                "db": cpu_used(db_before, process_tree_cpu(self.db_pid)) if self.db_pid else 0,
            }
            total, idle = machine_cpu()
            busy = (total - total_before) - (idle - idle_before)
            # (The worker's CPU includes its start-up, a little before the window: "others"
            # errs low.)
            others = max(0.0, busy - sum(cpu.values())) / max(total - total_before, 1e-9)
        finally:
            self.end_py_spy("worker-mail", spy)
            stop(worker)
            stop(sink)
        times = [float(line.split()[0]) for line in read_lines(sink_log)]
        rows = self.task("rows", BIG)
        result = {
            "queued": queued,
            "received": len(times),
            "sent_rows": rows["outbox_sent"],
            "worker_cpu_seconds": cpu["worker"],
            "sink_cpu_seconds": cpu["sink"],
            "db_cpu_seconds": cpu["db"],
            "other_busy_share": others,
        }
        if len(times) >= 2:
            span = max(times) - min(times)
            result["seconds_first_to_last"] = span
            result["per_second"] = (len(times) - 1) / span if span else None
            result["seconds_from_worker_start"] = max(times) - started
        else:
            result["per_second"] = 0.0
        if len(times) < n:
            self.problems.append(f"mail: {len(times)} of {n} mails arrived in time")
        return result

    def start_sink(self, log: Path, tokens: bool):
        port = free_port()
        command = [sys.executable, str(SINK), "--port", str(port), "--log", str(log)]
        sink = start([*command, *(["--tokens"] if tokens else [])], self.env, self.tmp, self.log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return sink, port
            except OSError:
                if sink.poll() is not None:
                    break
                time.sleep(0.1)
        stop(sink)
        raise BenchError(f"the SMTP server did not start:\n{tail(self.log)}")

    # --- 8: sign-to-counted latency -----------------------------------------------------

    def latency(self) -> dict:
        print("Measuring latency ...", file=sys.stderr, flush=True)
        args = self.args
        sink_log = self.tmp / "latency-mail.log"
        sink, smtp_port = self.start_sink(sink_log, tokens=True)
        env = {**self.env, "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}"}
        server = worker = poller = spy = None
        poll_seconds = args.latency_seconds + 70
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        try:
            server = start_server(env, self.tmp, self.log, port, args.workers, args.server_threads)
            worker = start([BIN / "undersigned", "worker"], env, self.tmp, self.log)
            poller = subprocess.Popen(
                [BIN / "undersigned", "shell", "-c", task_line("poll", LIVE, poll_seconds)],
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                start_new_session=True,
            )
            time.sleep(3)  # the worker and the poller start (Django set-up, first round)
            spy = self.py_spy("worker-latency", worker.pid, args.latency_seconds)
            client = PacedClient(self.base, LIVE, args.latency_rate, args.latency_seconds)
            watched = {"app": server.pid, "worker": worker.pid, "smtp": sink.pid}
            watched["db"] = self.db_pid
            before = {k: process_tree_cpu(pid) for k, pid in watched.items() if pid}
            total_before, idle_before = machine_cpu()
            self_before = own_cpu()
            client.run(sink_log)
            cpu = {k: cpu_used(tree, process_tree_cpu(watched[k])) for k, tree in before.items()}
            cpu["client"] = own_cpu() - self_before
            total, idle = machine_cpu()
            cpu["machine_busy_share"] = 1 - (idle - idle_before) / (total - total_before)
            cpu["wall_seconds"] = (total - total_before) / (os.cpu_count() or 1)
        finally:
            self.end_py_spy("worker-latency", spy)
            stop(worker)
            stop(server)
            stop(sink)
            rows_text = ""
            if poller is not None:
                stop(poller)
                rows_text = poller.stdout.read() if poller.stdout else ""
        row_samples = []
        for line in rows_text.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit():
                row_samples.append((float(parts[0]), int(parts[1])))
        result = client.summary(row_samples)
        result["cpu_seconds"] = cpu
        if (result["sign_rate"] or 0) < 0.95 * args.latency_rate:
            self.problems.append(
                f"latency: the client signed at {result['sign_rate'] or 0:.0f}/s, not "
                f"{args.latency_rate}/s: the machine could not keep up (see cpu_seconds)"
            )
        if result["unconfirmed"] or result["endpoint"]["uncounted"]:
            self.problems.append(
                f"latency: {result['unconfirmed']} signatures not confirmed, "
                f"{result['endpoint']['uncounted']} confirmations never seen in the count"
            )
        return result

    # --- profiles -----------------------------------------------------------------------

    def py_spy(self, name: str, pid: int, seconds: int):
        if not self.args.py_spy:
            return None
        out = RESULTS / f"profile-{self.args.database}-{name}.txt"
        command = [self.args.py_spy, "record", "--pid", str(pid), "--subprocesses"]
        command += ["--duration", str(seconds), "--format", "raw", "--output", str(out)]
        command += ["--nonblocking", "--rate", "97"]
        return subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        ), out

    def end_py_spy(self, name: str, spy) -> None:
        if spy is None:
            return
        process, out = spy
        try:
            process.wait(timeout=self.args.seconds + 90)
        except subprocess.TimeoutExpired:
            stop(process)
        if out.exists():
            self.profiles[name] = summarize_profile(out)


def merged(runs: list[dict]) -> dict:
    """wrk runs of one request as one: counts, durations and CPU time added up; of the
    latencies, the mean p50 and the worst p90, p99 and max."""
    latencies = [run["latency_us"] for run in runs]
    latency = {"p50": statistics.mean(lat["p50"] for lat in latencies)}
    latency |= {k: max(lat[k] for lat in latencies) for k in ("p90", "p99", "max")}
    added = {
        key: {k: sum(run[key].get(k, 0) for run in runs) for k in {k for r in runs for k in r[key]}}
        for key in ("statuses", "errors", "cpu_seconds")
    }
    return {
        **added,
        "duration_us": sum(run["duration_us"] for run in runs),
        "requests": sum(run["requests"] for run in runs),
        "latency_us": latency,
        "other_busy_share": max(run["other_busy_share"] for run in runs),
    }


def script(extra: tuple) -> tuple:
    """wrk's script and its arguments: confirm.lua with a token file, or sign.lua."""
    return (CONFIRM_LUA, extra) if extra else (SIGN_LUA, ())


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def task_line(*argv) -> str:
    """Code for `undersigned shell -c` that runs bench/dbtasks.py with ``argv``."""
    return (
        f"import runpy, sys; sys.argv = {['dbtasks', *map(str, argv)]!r}; "
        f"runpy.run_path({str(DBTASKS)!r}, run_name='__main__')"
    )


class PacedClient:
    """Signs at a steady rate, confirms each signature as soon as its mail arrives at the SMTP
    server, and polls the count endpoint; every step timestamped (wall clock)."""

    def __init__(self, base: str, slug: str, rate: int, seconds: int):
        self.host, self.port = base.removeprefix("http://").split(":")
        self.slug = slug
        self.rate = rate
        self.seconds = seconds
        self.total = rate * seconds
        self.local = threading.local()
        self.lock = threading.Lock()
        self.signed: dict[int, tuple[float, float, int]] = {}  # i: (sent, answered, status)
        self.mailed: dict[int, float] = {}
        self.confirmed: dict[int, tuple[float, float, int]] = {}
        self.counts: list[tuple[float, int]] = []
        self.lag = 0.0  # how far the pacing fell behind its schedule, at most
        self.stopping = threading.Event()

    def request(self, method: str, path: str, body: bytes = b"", headers=None):
        for attempt in range(2):
            connection = getattr(self.local, "connection", None)
            if connection is None:
                connection = http.client.HTTPConnection(self.host, int(self.port), timeout=30)
                self.local.connection = connection
            try:
                connection.request(method, path, body=body or None, headers=headers or {})
                response = connection.getresponse()
                return response.status, response.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                self.local.connection = None
                if attempt:
                    return 0, b""
        return 0, b""

    def sign(self, i: int) -> None:
        body = json.dumps(
            {"name": f"Live Signer {i}", "email": self.email(i), "display": "public"}
        ).encode()
        sent = time.time()
        status, _ = self.request(
            "POST",
            f"/api/v1/letters/{self.slug}/signatures",
            body,
            {"Content-Type": "application/json"},
        )
        with self.lock:
            self.signed[i] = (sent, time.time(), status)

    @staticmethod
    def email(i: int) -> str:
        # A thousand domains: the per-domain rate limit (which UNDERSIGNED_RATE_LIMIT_ALLOW
        # does not lift) would flag, and never count, most of a single domain's signatures.
        return f"live-{i}@d{i % 1000}.example.org"

    def confirm(self, i: int, token: str) -> None:
        sent = time.time()
        status, _ = self.request(
            "POST", f"/v/{token}", b"", {"Content-Type": "application/x-www-form-urlencoded"}
        )
        with self.lock:
            self.confirmed[i] = (sent, time.time(), status)

    def poll_count(self) -> None:
        path = f"/api/v1/letters/{self.slug}/count"
        while not self.stopping.is_set():
            status, body = self.request("GET", path)
            if status == 200:
                count = json.loads(body)["signature_count"]
                with self.lock:
                    self.counts.append((time.time(), count))
            self.stopping.wait(0.02)

    def follow_mail(self, log: Path, pool: ThreadPoolExecutor) -> None:
        """Read the SMTP server's log as it grows; confirm each confirmation mail's token."""
        pattern = re.compile(r"live-(\d+)@d\d+\.example\.org")
        deadline = time.monotonic() + self.seconds + 60
        while not log.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        pending = b""
        with log.open("rb") as lines:
            while not self.stopping.is_set() and time.monotonic() < deadline:
                data = lines.read(1 << 16)
                if not data:
                    time.sleep(0.01)
                    continue
                *complete, pending = (pending + data).split(b"\n")
                for line in complete:
                    received, recipient, code = line.decode().split()
                    found = pattern.fullmatch(recipient)
                    if found and code != "-":
                        i = int(found.group(1))
                        with self.lock:
                            self.mailed[i] = float(received)
                        pool.submit(self.confirm, i, code)

    def run(self, mail_log: Path) -> None:
        # Pools big enough that the client keeps its pace when the server slows down.
        with ThreadPoolExecutor(128) as pool, ThreadPoolExecutor(128) as confirming:
            poller = threading.Thread(target=self.poll_count, daemon=True)
            follower = threading.Thread(target=self.follow_mail, args=(mail_log, confirming))
            poller.start()
            follower.start()
            start = time.monotonic()
            for i in range(self.total):
                due = start + i / self.rate
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
                else:
                    self.lag = max(self.lag, now - due)
                pool.submit(self.sign, i)
            # Wait (bounded) until every signature is answered, every accepted one confirmed,
            # and every confirmation seen in the count.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with self.lock:
                    answered = len(self.signed)
                    accepted = sum(1 for s in self.signed.values() if s[2] == 202)
                    done = len(self.confirmed)
                    seen = self.counts[-1][1] if self.counts else 0
                    ok = self.confirmed_ok()
                if answered >= self.total and done >= accepted and seen >= ok:
                    break
                time.sleep(0.1)
            time.sleep(0.5)
            self.stopping.set()
            follower.join(timeout=10)
            poller.join(timeout=10)

    def confirmed_ok(self) -> int:
        return sum(1 for _, _, status in self.confirmed.values() if status == 200)

    def summary(self, row_samples: list[tuple[float, int]]) -> dict:
        with self.lock:
            signed, mailed, confirmed = dict(self.signed), dict(self.mailed), dict(self.confirmed)
            counts = list(self.counts)
        ok = {i: c for i, c in confirmed.items() if c[2] == 200}
        sign_times = [s[0] for s in signed.values()]
        span = (max(sign_times) - min(sign_times)) if len(sign_times) > 1 else 0
        to_mail = [mailed[i] - signed[i][1] for i in mailed if i in signed]
        return {
            "rate_asked": self.rate,
            "seconds": self.seconds,
            "signed_202": sum(1 for s in signed.values() if s[2] == 202),
            "sign_statuses": dict(Counter(str(s[2]) for s in signed.values())),
            "sign_rate": (len(signed) - 1) / span if span else None,
            "pacing_lag_seconds": self.lag,
            "sign_p99_seconds": quantile([s[1] - s[0] for s in signed.values()], 0.99),
            "mailed": len(mailed),
            "sign_to_mail": spread(to_mail),
            "confirmed_200": len(ok),
            "confirm_statuses": dict(Counter(str(c[2]) for c in confirmed.values())),
            "unconfirmed": self.total - len(ok),
            "endpoint": counted_latency(ok, signed, counts),
            "row": counted_latency(ok, signed, row_samples),
        }


def counted_latency(ok: dict, signed: dict, samples: list[tuple[float, int]]) -> dict:
    """When each confirmation shows in the count: the k-th confirmation (by the time its 200
    arrived) is counted at the first sample after it that reads k or more."""
    samples = sorted(samples)
    times = [t for t, _ in samples]
    order = sorted(ok, key=lambda i: ok[i][1])
    after_confirm, after_sign = [], []
    index = 0
    uncounted = 0
    for k, i in enumerate(order, start=1):
        confirmed_at = ok[i][1]
        index = max(index, bisect.bisect_left(times, confirmed_at))
        while index < len(samples) and samples[index][1] < k:
            index += 1
        if index == len(samples):
            uncounted = len(order) - k + 1
            break
        after_confirm.append(samples[index][0] - confirmed_at)
        if i in signed:
            after_sign.append(samples[index][0] - signed[i][0])
    return {
        "samples": len(samples),
        "uncounted": uncounted,
        "confirm_to_counted": spread(after_confirm),
        "sign_to_counted": spread(after_sign),
    }


def spread(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50": quantile(values, 0.5),
        "p99": quantile(values, 0.99),
        "max": max(values) if values else None,
    }


def quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def http_get(base: str, path: str) -> str:
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", path)
        return connection.getresponse().read().decode()
    finally:
        connection.close()


def line_count(path: Path) -> int:
    try:
        with path.open("rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 16), b""))
    except OSError:
        return 0


def read_lines(path: Path) -> list[str]:
    try:
        return [line for line in path.read_text().splitlines() if line.strip()]
    except OSError:
        return []


def measure_export(command: list[str]) -> None:
    """Run the export with its output in a pipe, count its lines, and print its wall time
    and peak RSS (this process has no other children)."""
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines = size = 0
    assert process.stdout is not None
    for chunk in iter(lambda: process.stdout.read(1 << 20), b""):
        lines += chunk.count(b"\n")
        size += len(chunk)
    stderr = process.stderr.read() if process.stderr else b""
    process.wait(timeout=600)
    seconds = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode != 0:
        sys.stderr.write(stderr.decode(errors="replace"))
        sys.exit(process.returncode)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_rss_mb": usage.ru_maxrss / 1024,  # Linux reports KiB
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "rows": lines - 1,  # the header
                "bytes": size,
            }
        )
    )


def summarize_profile(path: Path, top: int = 12) -> dict:
    """py-spy's raw (collapsed) stacks: the functions with the most samples on the stack
    (inclusive) and at its top (self), by share of all samples."""
    inclusive: Counter = Counter()
    own: Counter = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    if not total:
        return {"samples": 0}
    return {
        "file": str(path.relative_to(ROOT)),
        "samples": total,
        "inclusive": [(frame, n / total) for frame, n in inclusive.most_common(top * 3)],
        "self": [(frame, n / total) for frame, n in own.most_common(top)],
    }


# --- the report -------------------------------------------------------------------------


def detail(label: str, f: dict) -> None:
    cpu = ", ".join(f"{k} {v:.2f}" for k, v in f["cpu_ms_per_request"].items() if v)
    odd = {k: v for k, v in f["responses"].items() if k not in ("200", "202")}
    check = f.get("check")
    print(
        f"    {label:<16} {f['per_second']:>9,.0f} /s  p50 {f['p50_ms']:6.1f} ms  "
        f"p99 {f['p99_ms']:7.1f} ms  CPU ms/answer: {cpu}; others kept "
        f"{f['other_busy_share']:.0%} of the machine busy"
        + (f"; other answers {odd}" if odd else "")
        + (f"; errors {f['errors']}" if f["errors"] else "")
        + (
            f"; {check['answers']:,} answers, {check['rows']:,} rows changed"
            + ("" if check["agree"] else " (MISMATCH)")
            if check
            else ""
        )
    )


def verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("pass" if ok else "**FAIL**")


def rows_of(report: dict) -> list[tuple[str, ...]]:
    """(#, figure, value, ratio to /ping, ratio by CPU, target, result) for the table."""
    figures = report["figures"]
    big_rows = report["setup"]["big_rows"]
    big_name = f"{big_rows:,}" + (" (--quick)" if report["setup"]["quick"] else "")
    pings = [figures[key]["ping"]["per_second"] for key in figures]
    rows = [
        ("0", "GET /ping, the trivial view (median of the figures' /ping)")
        + (f"{statistics.median(pings):,.0f} /s", "1.00", "1.00", "–", "–"),
    ]
    for number, key in enumerate(("sign", "confirm", "count", "page"), start=1):
        f, ping = small_figure(figures[key]), figures[key]["ping"]
        ok = f["ratio_to_baseline"] >= TARGETS[key]
        ratio = f"{f['ratio_to_baseline']:.3f}" + span(f.get("round_ratios"))
        rows.append(
            (str(number), f"{NAMES[key]}, letter with 1,000", per_s(f))
            + (ratio, cpu_ratio(f, ping), f"≥ {TARGETS[key]:.2f}", verdict(ok))
        )
        if key == "sign" and "sign-display" in figures:
            group = figures["sign-display"]
            for display in DISPLAYS:
                f = group[display]
                ok = f["ratio_to_baseline"] >= TARGETS["sign"]
                ratio = f"{f['ratio_to_baseline']:.3f}" + span(f.get("round_ratios"))
                sealed = f", sealed to {ORGANIZER_KEYS} keys" if display == "hidden" else ""
                rows.append(
                    ("1", f"… display={display}{sealed} (own rounds with /ping)", per_s(f))
                    + (ratio, cpu_ratio(f, group["ping"]), f"≥ {TARGETS['sign']:.2f}")
                    + (verdict(ok),)
                )
    for key in ("sign", "confirm", "count", "page"):
        f, ping = figures[key]["big"], figures[key]["ping"]
        flat = flatness(figures[key])
        value = f"{per_s(f)} ({flat:.2f}{span(f.get('round_flatness'))} × 1,000)"
        rows.append(
            ("5", f"{NAMES[key]}, letter with {big_name}", value)
            + (f"{f['ratio_to_baseline']:.3f}", cpu_ratio(f, ping), f"≥ {FLAT} × 1,000")
            + (verdict(flat >= FLAT),)
        )
    for key in SPREAD:
        if key not in figures:
            continue
        f, ping = figures[key]["big"], figures[key]["ping"]
        ok = f["ratio_to_baseline"] >= TARGETS[key]
        rows.append(
            ("5", f"{NAMES[key]}, letter with {big_name}", per_s(f))
            + (f"{f['ratio_to_baseline']:.3f}", cpu_ratio(f, ping), f"≥ {TARGETS[key]:.2f}")
            + (verdict(ok),)
        )
    mail = report["mail"]
    rate = mail.get("per_second") or 0.0
    rows.append(
        ("6", f"mails delivered by one worker ({mail['received']:,} to local SMTP)")
        + (f"{rate:.0f} /s", "–", "–", f"≥ {MAIL_TARGET} /s", verdict(rate >= MAIL_TARGET))
    )
    export = report["export"]
    ok = export["seconds"] < EXPORT_SECONDS and export["peak_rss_mb"] < EXPORT_MB
    rows.append(
        ("7", f"CSV export of {export['rows']:,} signatures")
        + (f"{export['seconds']:.1f} s, {export['peak_rss_mb']:.0f} MB peak RSS", "–", "–")
        + (f"< {EXPORT_SECONDS} s, < {EXPORT_MB} MB", verdict(ok))
    )
    o = report.get("organizations")
    if o and o["max_step_ms"] is not None:
        rows.append(
            ("7", f"worker's count of organizations, {o['read']:,} public signers")
            + (
                f"{o['seconds']:.1f} s in {o['steps']:,} steps of {o['chunk']:,}; "
                f"step median {o['median_step_ms']:.0f} ms, max {o['max_step_ms']:.0f} ms",
                "–",
                "–",
                f"step < {ORGANIZATION_STEP_MS} ms",
                verdict(o["max_step_ms"] < ORGANIZATION_STEP_MS),
            )
        )
    latency = report["latency"]
    endpoint = latency["endpoint"]["confirm_to_counted"]
    sign_rate = latency["sign_rate"] or 0.0
    sustained = sign_rate >= 0.95 * latency["rate_asked"]
    asked = "" if sustained else f" (asked {latency['rate_asked']}: not sustained)"
    value = latency_value(latency["endpoint"], latency["confirmed_200"])
    p99 = endpoint["p99"] if endpoint["p99"] is not None else float("inf")
    ok = sustained and p99 < LATENCY_P99 and not latency["endpoint"]["uncounted"]
    rows.append(
        ("8", f"confirmed-to-counted at {latency['rate_asked']}/s signing, count endpoint")
        + (f"{value}; {sign_rate:.0f} signed/s" + asked, "–", "–")
        + (f"p99 < {LATENCY_P99:.0f} s at {latency['rate_asked']}/s", verdict(ok))
    )
    rows.append(
        ("8", "… the same, read from the letter row (what the counter wrote)")
        + (latency_value(latency["row"], latency["confirmed_200"]), "–", "–")
        + ("(for reference)", "–")
    )
    mail, total = latency["sign_to_mail"], latency["endpoint"]["sign_to_counted"]
    value = f"p99 {seconds(mail['p99'])} (p50 {seconds(mail['p50'])}); {seconds(total['p99'])}"
    rows.append(
        ("8", "… signed (202) to its mail at the SMTP server; signed to counted, p99")
        + (value, "–", "–", "(for reference)", "–")
    )
    return rows


def small_figure(trio: dict) -> dict:
    """The small letter's figure: measured twice (before and after the big one), the mean of
    both runs."""
    runs = [trio[k] for k in ("small", "small_again") if k in trio]
    if len(runs) == 1:
        return runs[0]

    def mean(*path):
        values = list(runs)
        for key in path:
            values = [v[key] if v else None for v in values]
        return statistics.mean(values) if None not in values else None

    cpu = {k: mean("cpu_ms_per_request", k) for k in runs[0]["cpu_ms_per_request"]}
    return {
        **runs[0],
        "per_second": mean("per_second"),
        "ratio_to_baseline": mean("ratio_to_baseline"),
        "cpu_ms_per_request": cpu,
    }


def flatness(trio: dict) -> float:
    """The big letter's rate over the small one's (the mean of the runs before and after it,
    when there were two)."""
    smalls = [trio[k]["per_second"] for k in ("small", "small_again") if k in trio]
    small = statistics.mean(smalls)
    return trio["big"]["per_second"] / small if small else 0.0


def span(values: list[float] | None) -> str:
    """The lowest and highest of a figure's per-round values, for the table."""
    return f" ({min(values):.2f}–{max(values):.2f})" if values else ""


def latency_value(counted: dict, confirmed: int) -> str:
    spread = counted["confirm_to_counted"]
    value = f"p99 {seconds(spread['p99'])} (p50 {seconds(spread['p50'])})"
    if counted["uncounted"]:
        value += f", {counted['uncounted']:,} of {confirmed:,} never seen in the count"
    return value


def cpu_ratio(f: dict, ping: dict) -> str:
    """/ping's CPU time per answer over this figure's (app server and database server): the
    ratio were both limited by CPU alone, which other load on the machine disturbs less."""

    def cpu(fig):
        values = [fig["cpu_ms_per_request"].get(k) for k in ("app", "db")]
        return sum(v for v in values if v) or None

    ours, theirs = cpu(f), cpu(ping)
    return f"{theirs / ours:.3f}" if ours and theirs else "–"


def per_s(f: dict) -> str:
    return f"{f['per_second']:,.0f} /s"


def seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return "never" if value == float("inf") else f"{value:.2f} s"


def markdown_table(report: dict) -> str:
    lines = [
        "| # | figure | value | ratio to /ping | ratio by CPU | target | result |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows_of(report)]
    return "\n".join(lines)


def print_report(report: dict) -> None:
    m, s = report["machine"], report["setup"]
    print(f"Machine: {m['cores']} cores, {m['cpu']}, Python {m['python']}, {m['os']}")
    print(f"Database: {m['database']}")
    print(f"Server: {s['server']}; load: {s['load']}")
    print(f"Date: {s['date']}; commit {s['commit']}")
    if s["quick"]:
        print(f"--quick: the big letter has {s['big_rows']:,} signatures, not 1,000,000.")
    if s["profiled"]:
        print("PROFILED RUN: py-spy ran during some figures; these numbers are not for the table.")
    print()
    print(markdown_table(report))
    print()
    print("Details (CPU milliseconds per counted answer: app server, database server, wrk):")
    for key, trio in report["figures"].items():
        for which, f in trio.items():
            detail(f"{key}, {which}", f)
    print(f"  before the bulk load, on the letter with {SMALL_ROWS:,}:")
    for key, f in report["before_load"].items():
        detail(f"{key}", f)
    mail = report["mail"]
    print(
        f"  mail: {mail['received']:,} received; worker CPU {mail['worker_cpu_seconds']:.1f} s, "
        f"SMTP server CPU {mail['sink_cpu_seconds']:.1f} s; first to last mail "
        f"{mail.get('seconds_first_to_last', 0):.1f} s, from worker start "
        f"{mail.get('seconds_from_worker_start', 0):.1f} s"
        + (
            f"; others kept {mail['other_busy_share']:.0%} of the machine busy"
            if "other_busy_share" in mail
            else ""
        )
    )
    queued = mail["queued"]
    if isinstance(queued, dict) and queued.get("recorded"):
        print(
            f"  intake: {queued['recorded']:,} signatures recorded in one process (what the "
            f"worker does before mailing) in {queued['record_seconds']:.1f} s: "
            f"{queued['recorded'] / queued['record_seconds']:,.0f}/s"
        )
    e = report["export"]
    print(
        f"  export: {e['rows']:,} rows, {e['bytes'] / 1e6:.0f} MB of CSV, "
        f"{e['cpu_seconds']:.1f} s CPU"
    )
    lat = report["latency"]
    print(
        f"  latency: {lat['signed_202']:,} signed (202) at {lat['sign_rate'] or 0:.0f}/s "
        f"(pacing fell behind by up to {lat['pacing_lag_seconds']:.2f} s; sign p99 "
        f"{seconds(lat['sign_p99_seconds'])}), {lat['mailed']:,} mails, "
        f"{lat['confirmed_200']:,} confirmed; sign→mail p50 "
        f"{seconds(lat['sign_to_mail']['p50'])} p99 {seconds(lat['sign_to_mail']['p99'])}; "
        f"sign→counted (endpoint) p50 "
        f"{seconds(lat['endpoint']['sign_to_counted']['p50'])} p99 "
        f"{seconds(lat['endpoint']['sign_to_counted']['p99'])}"
    )
    if "cpu_seconds" in lat:
        c = lat["cpu_seconds"]
        used = ", ".join(
            f"{k} {v:.1f}" for k, v in c.items() if k not in ("machine_busy_share", "wall_seconds")
        )
        print(
            f"  latency run: CPU seconds {used} in {c['wall_seconds']:.0f} s; the machine "
            f"was {c['machine_busy_share']:.0%} busy"
        )
    busy = [m["busy_before_load"]]
    busy += [f["other_busy_share"] for t in report["figures"].values() for f in t.values()]
    if max(busy) > BUSY_WARNING:
        print(
            f"WARNING: other processes kept the machine busy (up to {max(busy):.0%}): "
            "requests/s are low and noisy; CPU ms per answer is the steadier figure."
        )
    for problem in report["problems"]:
        print(f"PROBLEM: {problem}")
    for name, profile in report["profiles"].items():
        if profile.get("samples"):
            print(f"  profile {name}: {profile['samples']} samples in {profile['file']}")
            for frame, share in profile["self"][:8]:
                print(f"    self {share:5.1%}  {frame}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--measure-export"]:
        measure_export(sys.argv[2:])
    elif sys.argv[1:2] == ["--report"] and len(sys.argv) == 3:  # print a saved run again
        print_report(json.loads(Path(sys.argv[2]).read_text()))
    else:
        sys.exit(main())
