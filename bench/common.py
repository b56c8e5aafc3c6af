"""Helpers shared by the benchmarks: a fresh instance, the production server, load from wrk,
CPU accounting from /proc, and the machine's description.

Every wait here is bounded in time; every process a benchmark starts runs in a session of
its own, so that ``stop`` can end it (and only it) with its children."""

from __future__ import annotations

import json
import os
import platform
import resource
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
SIGN_LUA = BENCH / "sign.lua"
STARTUP_SECONDS = 60  # the server runs the checks and collectstatic before it listens
STOP_SECONDS = 15
BUSY_WARNING = 0.05  # share of the machine used by other processes that makes numbers doubtful
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# Run by `undersigned shell -c`; prints the database with the settings that decide how fast a
# commit is, as one JSON line.
DATABASE_INFO = """
import json
from django.conf import settings
from django.db import connection
with connection.cursor() as cursor:
    if connection.vendor == "postgresql":
        cursor.execute(
            "SELECT current_setting('server_version'), current_setting('fsync'), "
            "current_setting('synchronous_commit'), current_setting('shared_buffers'), "
            "current_setting('max_connections')"
        )
        version, fsync, synchronous_commit, shared_buffers, max_connections = cursor.fetchone()
        database = (
            f"PostgreSQL {version.split()[0]} (fsync={fsync}, "
            f"synchronous_commit={synchronous_commit}, shared_buffers={shared_buffers}, "
            f"max_connections={max_connections})"
        )
    else:
        cursor.execute("SELECT sqlite_version()")
        version = cursor.fetchone()[0]
        cursor.execute("PRAGMA journal_mode")
        journal_mode = cursor.fetchone()[0]
        cursor.execute("PRAGMA synchronous")
        synchronous = ["off", "normal", "full", "extra"][cursor.fetchone()[0]]
        cursor.execute("PRAGMA busy_timeout")
        busy_timeout = cursor.fetchone()[0]
        mode = settings.DATABASES["default"].get("OPTIONS", {}).get("transaction_mode")
        database = (
            f"SQLite {version} (journal_mode={journal_mode}, synchronous={synchronous}, "
            f"busy_timeout={busy_timeout} ms, transaction_mode={mode})"
        )
print(json.dumps({"database": database}))
"""


class BenchError(Exception):
    pass


def instance_env(database: str, tmp: Path) -> dict:
    """The environment of a fresh instance: nothing inherited from the caller's instance (its
    data dir, secret, mail or Redis), except DATABASE_URL for PostgreSQL."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("UNDERSIGNED_") and key not in {"EMAIL_URL", "REDIS_URL"}
    }
    env.update(
        UNDERSIGNED_DATA_DIR=str(tmp / "data"),
        UNDERSIGNED_SECRET_KEY=secrets.token_urlsafe(50),
        UNDERSIGNED_RATE_LIMIT_ALLOW="127.0.0.0/8",
        UNDERSIGNED_DEBUG="0",
        UNDERSIGNED_LOG_LEVEL="WARNING",
        # No worker runs unless a benchmark starts one (and an SMTP server for it).
        EMAIL_URL="smtp://127.0.0.1:9",
    )
    if database == "sqlite":
        env.pop("DATABASE_URL", None)
    return env


def check_database(parser, database: str) -> None:
    """Refuse ``--database postgres`` without a PostgreSQL DATABASE_URL; and let a SIGTERM
    (e.g. from a CI timeout) unwind like Ctrl-C, so that the benchmark stops its processes."""
    if database == "postgres" and not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        parser.error("--database postgres needs DATABASE_URL; run it under scripts/with-postgres")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def new_instance(database: str, tmp: Path, slug: str, static: bool = False) -> dict:
    """A fresh instance in ``tmp`` (migrated; with ``static``, its static files collected as
    `serve` does) with the published letter ``slug``. Returns its environment."""
    env = instance_env(database, tmp)
    (tmp / "data").mkdir()
    body = tmp / "letter.md"
    body.write_text("A letter for the benchmark.\n")
    manage(env, "migrate", "--no-input", "-v", "0")
    if static:
        manage(env, "collectstatic", "--no-input", "-v", "0")
    manage(env, "letter", "create", slug, "--title", "Bench", "--body-file", str(body), "--publish")
    return env


def manage(env: dict, *args: str, timeout: int = 120) -> str:
    try:
        done = subprocess.run(
            [BIN / "undersigned", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"`undersigned {' '.join(args[:2])}` took more than {timeout} s") from None
    if done.returncode != 0:
        last = "\n".join(done.stderr.strip().splitlines()[-20:])
        raise BenchError(f"`undersigned {' '.join(args[:2])}` failed:\n{last}")
    return done.stdout


def shell_json(env: dict, code: str, timeout: int = 120) -> dict:
    """Run ``code`` with `undersigned shell -c`; its last line of output is JSON."""
    return json.loads(manage(env, "shell", "-c", code, timeout=timeout).strip().splitlines()[-1])


def database_info(env: dict) -> str:
    return shell_json(env, DATABASE_INFO)["database"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(command: list, env: dict, cwd: Path, log: Path) -> subprocess.Popen:
    """Start a process in a session of its own (so that ``stop`` reaches its children), its
    output to ``log``."""
    with log.open("ab") as log_file:
        return subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def start_server(env: dict, cwd: Path, log: Path, port: int, workers: int, threads: int):
    serve = [BIN / "undersigned", "serve", "--host", "127.0.0.1", "--port", str(port)]
    serve += ["--workers", str(workers), "--threads", str(threads)]
    server = start(serve, env, cwd, log)
    try:
        wait_until_up(server, f"http://127.0.0.1:{port}/health", log)
    except BaseException:
        stop(server)
        raise
    return server


def wait_until_up(server: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise BenchError(f"the server exited with {server.returncode}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise BenchError(f"the server did not answer {url} within {STARTUP_SECONDS} s:\n{tail(log)}")


def stop(process: subprocess.Popen | None) -> None:
    """SIGTERM lets the process (Granian, the worker) stop its children; if that hangs, kill
    its process group (its own session: only it and its children)."""
    if process is None:
        return
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=STOP_SECONDS)


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class Load:
    """Runs wrk with a Lua script (bench/sign.lua unless told), and measures the CPU time that
    the watched processes (each with its descendants) and the rest of the machine use
    meanwhile. Each run has a number of its own, which sign.lua puts in its emails."""

    def __init__(self, args, base: str, watched: dict[str, int | None]):
        self.args = args
        self.base = base
        self.watched = {name: pid for name, pid in watched.items() if pid}
        self.runs = 0

    def measure(self, mode: str, path: str) -> dict:
        self.warm_up(mode, path)
        return self.run(mode, path)

    def warm_up(self, mode: str, path: str, script: Path = SIGN_LUA, extra=()) -> None:
        if self.args.warmup:
            self.wrk(mode, path, self.args.warmup, script, extra)

    def run(self, mode: str, path: str, script: Path = SIGN_LUA, extra=(), seconds=None) -> dict:
        trees = {name: process_tree_cpu(pid) for name, pid in self.watched.items()}
        total_before, idle_before = machine_cpu()
        wrk_before = children_cpu()
        result = self.wrk(mode, path, seconds or self.args.seconds, script, extra)
        wrk_cpu = children_cpu() - wrk_before
        total, idle = machine_cpu()
        total, idle = total - total_before, idle - idle_before
        result["cpu_seconds"] = {
            name: cpu_used(before, process_tree_cpu(self.watched[name]))
            for name, before in trees.items()
        }
        ours = sum(result["cpu_seconds"].values()) + wrk_cpu
        result["cpu_seconds"]["wrk"] = wrk_cpu
        result["other_busy_share"] = max(0.0, (total - idle - ours) / total) if total else 0.0
        return result

    def wrk(self, mode: str, path: str, seconds: int, script: Path = SIGN_LUA, extra=()) -> dict:
        self.runs += 1
        command = [
            "wrk", f"-t{self.args.threads}", f"-c{self.args.connections}", f"-d{seconds}s",
            "--timeout", "10s", "-s", str(script), self.base + path,
            "--", mode, str(self.runs), *map(str, extra),
        ]  # fmt: skip
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=seconds + 60, check=False
            )
        except FileNotFoundError:
            raise BenchError("wrk is not installed (apt-get install wrk)") from None
        except subprocess.TimeoutExpired:
            raise BenchError(f"wrk did not finish a {seconds} s run in {seconds + 60} s") from None
        for line in done.stdout.splitlines():
            if line.startswith("RESULT "):
                return json.loads(line.removeprefix("RESULT "))
        raise BenchError(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")


# CPU accounting from /proc (Linux), in seconds of user + system time.


def process_cpu(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a process, or None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def process_tree_cpu(root: int) -> dict[int, float]:
    """CPU seconds of ``root`` and its descendants, by pid."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := process_cpu(int(entry.name))):
            table[int(entry.name)] = stat
    tree, frontier = {}, {root}
    while frontier:
        tree.update({pid: table[pid][1] for pid in frontier if pid in table})
        frontier = {pid for pid, (parent, _) in table.items() if parent in frontier} - set(tree)
    return tree


def cpu_used(before: dict[int, float], after_tree: dict[int, float]) -> float:
    # Processes that started during the run (e.g. new PostgreSQL backends) count from zero.
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after_tree.items())


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_cpu() -> tuple[float, float]:
    """(all, idle) CPU seconds of the machine since boot, summed over cores."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(ticks) / CLOCK_TICKS, (ticks[3] + ticks[4]) / CLOCK_TICKS  # idle + iowait


def machine_busy_share(seconds: float) -> float:
    total_before, idle_before = machine_cpu()
    time.sleep(seconds)
    total, idle = machine_cpu()
    return 1 - (idle - idle_before) / (total - total_before) if total > total_before else 0.0


def postmaster_pid(database: str) -> int | None:
    """The PostgreSQL server's pid when scripts/with-postgres started it on this machine."""
    data_dir = os.environ.get("PG_DATA_DIR")
    if database != "postgres" or not data_dir:
        return None
    try:
        return int((Path(data_dir) / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def figure(name: str, result: dict, baseline: dict, status: str = "200") -> dict:
    answers = result["statuses"].get(status, 0)
    return {
        "figure": name,
        "counted": f"{status} answers",
        "per_second": rate(result, status),
        "ratio_to_baseline": rate(result, status) / rate(baseline, "200"),
        "p50_ms": result["latency_us"]["p50"] / 1000,
        "p99_ms": result["latency_us"]["p99"] / 1000,
        "cpu_ms_per_request": {
            name: 1000 * seconds / answers if answers else None
            for name, seconds in result["cpu_seconds"].items()
        },
        "other_busy_share": result["other_busy_share"],
        "responses": result["statuses"],
        "errors": {kind: n for kind, n in result["errors"].items() if n},
    }


def rate(result: dict, status: str) -> float:
    return result["statuses"].get(status, 0) / (result["duration_us"] / 1e6)


def machine(database: str, busy_before: float) -> dict:
    return {
        "cores": os.cpu_count(),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "database": database,
        "os": f"{platform.system()} {platform.release()}",
        "busy_before_load": busy_before,
    }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit() -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head} with uncommitted changes" if dirty else head


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
