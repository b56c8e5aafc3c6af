"""Where one request's time goes, without a server, threads or other load in the way: calls
the WSGI application in-process, one request at a time, under cProfile.

    .venv/bin/python bench/hotpath.py [--database sqlite|postgres] [--requests N] [--top N]
    scripts/with-postgres .venv/bin/python bench/hotpath.py --database postgres

On a fresh instance with a letter of 1,000 confirmed signatures (bench/dbtasks.py), it
times and profiles, each N times: GET /ping, POST /api/v1/letters/<slug>/signatures (a new
email each time), POST /v/<token> (pending signatures made beforehand), GET /l/<slug>/ and
GET /api/v1/letters/<slug>/count with the per-process caches emptied before each request
(what a cache miss costs), and ``export.as_csv`` over the letter. ``--kinds sign,sign-listed``
compares signing with signing under an abuse policy with long lists (5,000 blocked domains,
200 address patterns, 100 allowed networks), which must cost about the same. Prints milliseconds per
request and, for each, the functions with the most cumulative and own time.

cProfile slows Python code down (by about half) but not the database, so it overstates the
Python part; the milliseconds per request are measured in a separate run without it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BENCH, BenchError, check_database, manage, new_instance  # noqa: E402

SLUG = "hot"

# Run by `undersigned shell -c`, with the arguments in the environment.
PROFILE = r"""
import cProfile, io, json, os, pstats, time
from undersigned.wsgi import application
from undersigned.web.caching import recent
from django.core.cache import cache
from undersigned.signatures import export
from undersigned.letters.models import Letter

n = int(os.environ["HOT_REQUESTS"])
top = int(os.environ["HOT_TOP"])
slug = os.environ["HOT_SLUG"]
tokens = open(os.environ["HOT_TOKENS"]).read().split()

def call(method, path, body=b"", content_type=""):
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000", "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": content_type, "wsgi.errors": io.StringIO(),
        "wsgi.version": (1, 0), "wsgi.multithread": True, "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    status = []
    chunks = application(environ, lambda s, h, e=None: status.append(s))
    b"".join(chunks)
    getattr(chunks, "close", lambda: None)()
    return status[0][:3]

counter = iter(range(10**9))
token_iter = iter(tokens)

def ping():
    return call("GET", "/ping")

def sign():
    i = next(counter)
    body = json.dumps({"name": f"Hot {i}", "email": f"hot-{i}@d{i % 1000}.example.org",
                       "display": "public"}).encode()
    return call("POST", f"/api/v1/letters/{slug}/signatures", body, "application/json")

def confirm():
    return call("POST", f"/v/{next(token_iter)}", b"", "application/x-www-form-urlencoded")

def page_miss():
    recent.clear(); cache.clear()
    return call("GET", f"/l/{slug}/")

def count_miss():
    recent.clear(); cache.clear()
    return call("GET", f"/api/v1/letters/{slug}/count")

def sign_listed():
    # Signing under an abuse policy with long lists (an operator's answer to a surge).
    from undersigned.moderation.models import Policy
    policy = Policy.current()
    if not policy.blocked_patterns:
        policy.blocked_domains = "\n".join(f"spam{i}.example.net" for i in range(5000))
        policy.blocked_patterns = "\n".join(f"*+bot{i}*@example.com" for i in range(200))
        policy.allowed_networks = ", ".join(f"10.{i}.0.0/16" for i in range(100))
        policy.save()
    return sign()

def run(kind, f, times):
    expected = {"sign": "202", "sign-listed": "202"}.get(kind, "200")
    for _ in range(20):  # warm up: imports, template and URL caches, connections
        assert f() == expected, kind
    started = time.process_time(); wall = time.perf_counter()
    for _ in range(times):
        f()
    cpu_ms = 1000 * (time.process_time() - started) / times
    wall_ms = 1000 * (time.perf_counter() - wall) / times
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(times):
        f()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    if os.environ.get("HOT_DUMP"):  # HOT_DUMP=DIR: the raw profiles too, for pstats
        stats.dump_stats(os.path.join(os.environ["HOT_DUMP"], f"{kind}.prof"))
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    print(f"=== {kind}: {cpu_ms:.2f} ms CPU, {wall_ms:.2f} ms wall per request "
          f"(single thread, no profiler)")
    text = out.getvalue()
    print(text[text.index("ncalls") - 1:] if "ncalls" in text else text)

kinds = os.environ["HOT_KINDS"].split(",")
table = {"ping": ping, "sign": sign, "confirm": confirm, "page": page_miss,
         "count": count_miss, "sign-listed": sign_listed}
for kind in kinds:
    if kind == "export":
        letter = Letter.objects.get(slug=slug)
        profiler = cProfile.Profile()
        started = time.process_time()
        profiler.enable()
        rows = sum(chunk.count("\n") for chunk in export.as_csv(letter))
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
        print(f"=== export: {rows} lines, {time.process_time() - started:.2f} s CPU "
              "(with the profiler)")
        text = out.getvalue()
        print(text[text.index("ncalls") - 1:])
    else:
        run(kind, table[kind], n)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--requests", type=int, default=1000, help="requests per kind")
    parser.add_argument("--top", type=int, default=25, help="functions shown per listing")
    parser.add_argument("--rows", type=int, default=1000, help="confirmed signatures")
    parser.add_argument("--kinds", default="ping,sign,confirm,page,count,export")
    args = parser.parse_args()
    if not 10 <= args.requests <= 20_000 or not 1_000 <= args.rows <= 2_000_000:
        parser.error("--requests must be 10-20,000 and --rows 1,000-2,000,000")
    check_database(parser, args.database)
    try:
        with tempfile.TemporaryDirectory(prefix="undersigned-hot-") as tmp:
            print(profile(args, Path(tmp)))
    except BenchError as exc:
        print(f"bench/hotpath.py: {exc}", file=sys.stderr)
        return 1
    return 0


def profile(args, tmp: Path) -> str:
    env = new_instance(args.database, tmp, SLUG, static=True)
    tokens = tmp / "tokens.txt"
    for task in (["load", SLUG, args.rows], ["pending", SLUG, 2 * args.requests + 40, tokens, "h"]):
        line = (
            f"import runpy, sys; sys.argv = {['dbtasks', *map(str, task)]!r}; "
            f"runpy.run_path({str(BENCH / 'dbtasks.py')!r}, run_name='__main__')"
        )
        manage(env, "shell", "-c", line, timeout=900)
    env.update(
        HOT_REQUESTS=str(args.requests),
        HOT_TOP=str(args.top),
        HOT_SLUG=SLUG,
        HOT_TOKENS=str(tokens),
        HOT_KINDS=args.kinds,
    )
    return manage(env, "shell", "-c", PROFILE, timeout=1800)


if __name__ == "__main__":
    sys.exit(main())
