"""``undersigned serve``: the production server starts, serves pages and static files, and
stops on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import free_port, subprocess_env


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310  loopback only
        return response.status, response.read()


@pytest.mark.django_db(transaction=True)
def test_the_production_server_serves_the_letter_and_its_assets(letter):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "undersigned", "serve", "--port", str(port), "--workers", "1"],
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                assert get(f"{base}/ping") == (200, b"ok")
                break
            except OSError:
                assert process.poll() is None, process.stdout.read().decode()
                assert time.monotonic() < deadline, "the server did not start in 30 s"
                time.sleep(0.2)
        status, page = get(f"{base}/l/{letter.slug}/")
        assert status == 200 and b"Clean air for Riverside" in page
        # WhiteNoise serves the hashed, compressed stylesheet the page links to.
        css = page.decode().split('rel="stylesheet" href="')[1].split('"')[0]
        assert css.startswith("/static/undersigned.") and css != "/static/undersigned.css"
        assert get(base + css)[0] == 200
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    assert b"Traceback" not in process.stdout.read()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_refuses_a_port_that_another_server_holds(letter):
    import socket

    port = free_port()
    with socket.socket() as other:  # as Granian listens: a shared port is allowed
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", port))
        other.listen()
        done = subprocess.run(
            [sys.executable, "-m", "undersigned", "serve", "--port", str(port)],
            env=subprocess_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode != 0
    assert f"Port {port} on 127.0.0.1 is in use already" in done.stderr
    assert "Traceback" not in done.stderr
