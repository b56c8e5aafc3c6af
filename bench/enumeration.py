"""Does the time of an answer tell whether an email already signed, or has an organizer
account? It should not.

    .venv/bin/python bench/enumeration.py [--rounds N] [--database sqlite|postgres] [--reset]

Starts the production server on a fresh instance, confirms a set of addresses, then signs
through the API, alternating a new address and an already-confirmed one, one request at a
time, and prints the latency distribution of each kind side by side with their ratio. The
request does not look the address up at all (it writes one intake row; the worker, which
does not run here, records it), so the medians should agree within noise (a ratio near
1.00). It also checks that every answer's status and body are identical.

With ``--reset`` it asks for password resets instead (the organizer log-in's "forgot my
password" form, with its CSRF token, as a browser sends it), alternating the address of an
organizer account and an address without one: the known one queues a mail, the unknown one
renders the same mail and throws it away. Each known address is asked at most three times
(the per-address mail cap would otherwise turn it into an unknown one).
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import re
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    BenchError,
    check_database,
    free_port,
    manage,
    new_instance,
    start_server,
    stop,
)
from bench.sign import SLUG  # noqa: E402

CONFIRM_KNOWN = """
from undersigned.letters.models import Letter
from undersigned.outbox.models import OutgoingEmail
from undersigned.signatures import services
letter = Letter.objects.get(slug="{slug}")
for i in range({known}):
    services.sign(letter, services.SignatureData(name="Known", email=f"known{{i}}@example.org"))
    services.record_intake()  # as the worker would
    body = OutgoingEmail.objects.filter(kind="confirm").latest("id").body_text
    services.confirm(body.split("/v/")[1].split()[0])
print("confirmed", {known})
"""


def post(url: str, payload: dict) -> tuple[float, int, bytes]:
    request = urllib.request.Request(  # noqa: S310  loopback only
        url, json.dumps(payload).encode(), {"Content-Type": "application/json"}
    )
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310  loopback only
        body = response.read()
        return time.perf_counter() - start, response.status, body


MAKE_ORGANIZERS = """
from django.contrib.auth.models import User
User.objects.bulk_create(
    [User(username=f"org{{i}}", email=f"org{{i}}@example.org") for i in range({count})]
)
print("organizers", {count})
"""


def reset_client():
    """A browser-like client: cookies kept, the form's CSRF token read from the page."""
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))


def ask_reset(opener, base: str, email: str) -> tuple[float, int, bytes]:
    url = f"{base}/accounts/password-reset/"
    with opener.open(url, timeout=10) as response:  # noqa: S310  loopback only
        page = response.read().decode()
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if not found:
        raise BenchError("the reset page has no CSRF token")
    data = urllib.parse.urlencode({"csrfmiddlewaretoken": found.group(1), "email": email})
    request = urllib.request.Request(url, data.encode(), {"Referer": url})  # noqa: S310
    start = time.perf_counter()
    with opener.open(request, timeout=10) as response:  # noqa: S310  loopback only
        body = response.read()
        return time.perf_counter() - start, response.status, body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=400, help="pairs of requests (max 5000)")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--reset", action="store_true", help="password resets, not signing")
    args = parser.parse_args()
    if not 10 <= args.rounds <= 5000:
        parser.error("--rounds must be 10-5000")
    check_database(parser, args.database)
    known = 50
    with tempfile.TemporaryDirectory(prefix="undersigned-bench-") as tmp_name:
        tmp = Path(tmp_name)
        env = new_instance(args.database, tmp, SLUG)
        env["UNDERSIGNED_BASE_URL"] = base = f"http://127.0.0.1:{(port := free_port())}"
        if args.reset:
            known = -(-args.rounds // 3)
            manage(env, "shell", "-c", MAKE_ORGANIZERS.format(count=known))
        else:
            manage(env, "shell", "-c", CONFIRM_KNOWN.format(slug=SLUG, known=known))
        server = start_server(env, tmp, tmp / "server.log", port, workers=1, threads=4)
        try:
            url = f"{base}/api/v1/letters/{SLUG}/signatures"
            times: dict[str, list[float]] = {"new": [], "known": []}
            answers = set()
            opener = reset_client()
            for i in range(20):  # warm-up
                if args.reset:
                    ask_reset(opener, base, f"warm{i}@example.org")
                else:
                    post(url, {"name": "Warm", "email": f"warm{i}@example.org"})
            for i in range(args.rounds):
                pair = (("new", f"new{i}@example.org"), ("known", f"known{i % known}@example.org"))
                if args.reset:
                    pair = (
                        ("new", f"nobody{i}@example.org"),
                        ("known", f"org{i % known}@example.org"),
                    )
                for kind, email in pair:
                    if args.reset:
                        elapsed, status, answer = ask_reset(opener, base, email)
                    else:
                        elapsed, status, answer = post(url, {"name": "Probe", "email": email})
                    times[kind].append(elapsed * 1000)
                    answers.add((status, answer))
        except BenchError as exc:
            print(f"bench/enumeration.py: {exc}", file=sys.stderr)
            return 1
        finally:
            stop(server)
    what = "password resets" if args.reset else "signatures"
    print(f"Database: {args.database}; {args.rounds} pairs of {what}, one request at a time\n")
    print(f"{'address':<10}{'median ms':>11}{'p10 ms':>9}{'p90 ms':>9}")
    stats = {}
    for kind, values in times.items():
        deciles = statistics.quantiles(values, n=10)
        stats[kind] = statistics.median(values)
        print(f"{kind:<10}{stats[kind]:>11.2f}{deciles[0]:>9.2f}{deciles[-1]:>9.2f}")
    print(f"\nmedian ratio known/new: {stats['known'] / stats['new']:.3f}")
    print(f"distinct (status, body) answers: {len(answers)} (must be 1)")
    return 0 if len(answers) == 1 else 2


if __name__ == "__main__":
    sys.exit(main())
