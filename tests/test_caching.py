"""Public reads are cacheable, revalidate with 304, and cost (almost) no queries in a surge."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils.cache import get_max_age

from tests.conftest import drain, in_threads
from undersigned.letters import services as letter_services
from undersigned.signatures import counting
from undersigned.signatures.models import CountDelta, Signature
from undersigned.web.caching import recent

pytestmark = pytest.mark.django_db

PUBLIC_READS = [
    "/",
    "/l/clean-air/",
    "/api/v1/letters/clean-air",
    "/api/v1/letters/clean-air/count",
    "/api/v1/letters/clean-air/signatures",
    "/api/v1/openapi.json",
]


@pytest.mark.parametrize("url", PUBLIC_READS)
def test_public_reads_are_cacheable_and_revalidate(client, letter, url):
    response = client.get(url)
    assert response.status_code == 200
    control = response["Cache-Control"]
    assert "public" in control and "stale-while-revalidate=" in control
    assert "stale-if-error=86400" in control
    assert 0 < get_max_age(response) <= 10
    assert not response.cookies
    etag = response["ETag"]
    again = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again["ETag"] == etag and not again.content
    assert client.get(url, HTTP_IF_NONE_MATCH='"other"').status_code == 200


@pytest.mark.parametrize("url", PUBLIC_READS)
def test_a_warm_public_read_asks_the_database_nothing(
    client, letter, url, django_assert_num_queries
):
    client.get(url)
    with django_assert_num_queries(0):
        assert client.get(url).status_code == 200


# What a read that finds nothing cached asks the database, each by an index: the letter by
# its slug, one page of signatories, the letter's public invalidations, (at most once a
# second per process) the abuse policy's kill switch; and its life: a page of its timeline,
# its demands (and, for the API, its versions and their tallies); its growth by the hour and
# its department tallies and the stored count of organizations, by its primary key (kept a
# minute in the shared cache, ``letters.growth``).
COLD_QUERIES = {
    "/": 1,
    "/l/clean-air/": 9,
    "/api/v1/letters/clean-air": 8,
    "/api/v1/letters/clean-air/count": 1,
    "/api/v1/letters/clean-air/signatures": 2,
    "/api/v1/openapi.json": 0,
}


@pytest.mark.parametrize("url", PUBLIC_READS)
def test_a_cold_public_read_asks_the_database_a_few_indexed_questions(
    client, letter, url, django_assert_max_num_queries
):
    recent.clear()
    cache.clear()
    with django_assert_max_num_queries(COLD_QUERIES[url]):
        assert client.get(url).status_code == 200


def test_the_count_comes_from_the_cache_that_the_counter_refreshes(
    client, letter, django_assert_num_queries, monkeypatch
):
    # As with REDIS_URL: one cache for the counter and the app servers (here, one process).
    monkeypatch.setattr(counting, "SHARED_CACHE", True)
    assert client.get("/api/v1/letters/clean-air/count").json()["signature_count"] == 0
    Signature.objects.create(letter=letter, name="A", status="confirmed", email_hash="a" * 64)
    CountDelta.objects.create(letter=letter, signatures=1)
    drain()  # the counter folds the journal and writes the new count to the shared cache
    with django_assert_num_queries(0):
        assert client.get("/api/v1/letters/clean-air/count").json()["signature_count"] == 1


def test_without_a_shared_cache_each_process_reads_the_count_once_a_second(
    client, letter, django_assert_num_queries
):
    assert not counting.SHARED_CACHE  # the test settings, like a default install
    assert client.get("/api/v1/letters/clean-air/count").json()["signature_count"] == 0
    Signature.objects.create(letter=letter, name="A", status="confirmed", email_hash="a" * 64)
    CountDelta.objects.create(letter=letter, signatures=1)
    drain()  # includes this process's second passing
    with django_assert_num_queries(1):
        assert client.get("/api/v1/letters/clean-air/count").json()["signature_count"] == 1


def test_a_page_is_fresh_again_after_its_seconds(client, letter):
    assert ">0</strong>" in client.get("/l/clean-air/").content.decode()
    Signature.objects.create(letter=letter, name="A", status="confirmed", email_hash="a" * 64)
    CountDelta.objects.create(letter=letter, signatures=1)
    drain()  # also lets this process's copies expire
    assert ">1</strong>" in client.get("/l/clean-air/").content.decode()


def test_people_with_a_session_get_their_own_page(client, letter, organizer):
    client.get("/l/clean-air/")  # an anonymous copy is now cached
    client.force_login(organizer)
    page = client.get("/l/clean-air/")
    assert "Your letters" in page.content.decode()
    assert "Cookie" in page.get("Vary", "") or not page.has_header("ETag")


def test_changing_a_letter_drops_this_processes_copies(client, letter):
    client.get("/l/clean-air/")
    letter.title = "Cleaner air"
    letter_services.edit(letter, ["title"], via="command")
    assert "Cleaner air" in client.get("/l/clean-air/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_page_cached_while_a_change_commits_is_dropped_after_the_commit(client, letter):
    """Another reader may cache the old page between the act and its commit."""
    from django.db import transaction

    letter.title = "Cleaner air"
    with transaction.atomic():
        letter_services.edit(letter, ["title"], via="command")
        # A reader on another connection still sees the committed, old title, and this
        # process keeps its page.
        in_threads(lambda _: Client().get("/l/clean-air/"), [0], threads=1)
        assert "Cleaner air" not in client.get("/l/clean-air/").content.decode()
    assert "Cleaner air" in client.get("/l/clean-air/").content.decode()


# --- headers on every page ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/l/clean-air/", "/api/v1/letters/clean-air", "/nothing"])
def test_every_page_has_a_strict_content_security_policy(client, letter, path):
    response = client.get(path)
    policy = response["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    assert "camera=()" in response["Permissions-Policy"]


def test_pages_with_a_private_link_are_never_stored(client, letter):
    from tests.conftest import last_token

    client.post("/l/clean-air/", {"name": "Ada", "email": "ada@example.org"})
    token = last_token()
    for path in (f"/v/{token}", "/s/" + "x" * 43, "/m/" + "y" * 43):
        for method in ("get", "post"):
            response = getattr(client, method)(path)
            assert response["Cache-Control"] == "private, no-store", (method, path)
            assert response["Referrer-Policy"] == "no-referrer"


def test_an_https_site_asks_browsers_never_to_use_http(client, letter, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    response = client.get("/l/clean-air/", secure=True)
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
