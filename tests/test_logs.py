"""Private links never reach a log line: not Django's request logs, not the HTTP server's,
not a traceback. Whoever reads the logs must not be able to confirm, withdraw or re-show
anyone's signature."""

from __future__ import annotations

import io
import logging
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from django.test import Client

from tests.conftest import free_port, settle, subprocess_env
from undersigned.outbox.models import OutgoingEmail
from undersigned.web.logging import RedactLinks

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


def live_links(letter) -> dict[str, str]:
    """A live confirmation token, receipt and members-only pass."""
    from tests.conftest import make_letter

    Client().post(f"/l/{letter.slug}/", {"name": "Ada", "email": "ada@example.org"})
    settle()
    body = OutgoingEmail.objects.get(kind="confirm").body_text
    members = make_letter(
        list(letter.organizers.all()), slug="inside", visibility="members", domains="example.com"
    )
    Client().post(f"/l/{members.slug}/members/", {"email": "bea@example.com"})
    pass_body = OutgoingEmail.objects.get(kind="member-pass").body_text
    return {
        "v": body.split("/v/")[1].split()[0],
        "s": body.split("/s/")[1].split()[0],
        "m": pass_body.split("/m/")[1].split()[0],
    }


@pytest.fixture
def server_log():
    """What the application's log handler writes (the one `serve` and `worker` use)."""
    handler = next(
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, RedactLinks) for f in h.filters)
    )
    written = io.StringIO()
    old = handler.setStream(written)
    yield written
    handler.setStream(old)


@pytest.mark.django_db
def test_no_request_with_a_live_link_logs_it(letter, server_log):
    links = live_links(letter)
    bodies = [{}, {"action": "withdraw"}, {"display": "x" * 300}, {"name": "\x00"}]
    for prefix, token in links.items():
        for method in METHODS:
            for body in bodies:
                Client().generic(method, f"/{prefix}/{token}", body, content_type="text/plain")
        Client().post(f"/{prefix}/{token}", "%%%", content_type="application/x-www-form-urlencoded")
    logged = server_log.getvalue()
    assert "Method Not Allowed" in logged and "[redacted]" in logged  # it did log, redacted
    for token in links.values():
        assert token not in logged


def test_a_traceback_keeps_no_link():
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "failed at %s", ("/s/abc123",), None
    )
    try:
        raise ValueError("while serving /v/Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg")
    except ValueError:
        record.exc_info = sys.exc_info()
    assert RedactLinks().filter(record)
    formatted = logging.Formatter().format(record)
    assert "abc123" not in formatted and "Zm9vYmFy" not in formatted


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_http_server_logs_no_live_link(letter):
    links = live_links(letter)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "undersigned", "serve", "--port", str(port)],
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{base}/ping", timeout=2)  # noqa: S310  loopback
                break
            except OSError:
                time.sleep(0.1)
        for prefix, token in links.items():
            for method in METHODS:
                request = urllib.request.Request(  # noqa: S310  loopback
                    f"{base}/{prefix}/{token}", method=method, data=b"\xff\x00" * 10
                )
                try:
                    urllib.request.urlopen(request, timeout=5)  # noqa: S310
                except urllib.error.HTTPError:
                    pass
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=30)[0]
    assert "Method Not Allowed" in output  # the server logs what it refuses, redacted
    for token in links.values():
        assert token not in output
