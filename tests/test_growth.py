"""How a letter grew and who signed it, in aggregate: the timeline API (JSON and CSV), the
server-side chart, the breakdown, and the folding that keeps anyone from being singled out."""

from __future__ import annotations

import csv
import io
import re
import secrets
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import make_letter
from undersigned.letters import growth
from undersigned.letters.models import Letter
from undersigned.signatures.models import Signature, Tally

pytestmark = pytest.mark.django_db

START = datetime(2026, 6, 1, 9, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"


def add_signatures(letter, per_hour: list[int], **fields) -> None:
    """Counted signatures confirmed in consecutive hours from START, and the letter's count
    and department tallies as the counter would leave them."""
    rows = []
    for offset, n in enumerate(per_hour):
        for _ in range(n):
            rows.append(
                Signature(
                    letter=letter,
                    status=Signature.Status.CONFIRMED,
                    email_hash=secrets.token_hex(32),
                    confirmed_at=START + timedelta(hours=offset),
                    **fields,
                )
            )
    Signature.objects.bulk_create(rows)
    total = Signature.objects.counted().filter(letter=letter).count()
    verified = Signature.objects.counted().filter(letter=letter).exclude(verified_domain="")
    Letter.objects.filter(pk=letter.pk).update(
        signature_count=total, verified_count=verified.count()
    )
    letter.refresh_from_db()


def test_sparse_buckets_merge_with_their_neighbours():
    hours = [START + timedelta(hours=i) for i in range(6)]
    merged = growth.merge_sparse(list(zip(hours, [7, 2, 1, 3, 9, 1], strict=True)), k=5)
    assert merged == [(hours[0], 7), (hours[3], 6), (hours[5], 10)]
    assert all(n >= 5 for _, n in merged)
    assert growth.merge_sparse([(hours[0], 2), (hours[1], 2)], k=5) == []


def test_small_groups_fold_into_other_which_is_never_small_itself():
    folded = growth.fold({"Eng": 40, "Legal": 2, "HR": 3, "Ops": 6}, k=5)
    assert folded == {"Eng": 40, "Ops": 6, "other": 5}
    # "other" of 2 would single out two people: the smallest shown group joins it.
    assert growth.fold({"Eng": 40, "Ops": 6, "Legal": 2}, k=5) == {"Eng": 40, "other": 8}
    assert growth.fold({"Legal": 2}, k=5) == {}


def test_the_timeline_is_cumulative_by_hour_with_sparse_hours_merged(client, letter):
    add_signatures(letter, [60, 2, 2, 40, 0, 3])
    response = client.get(f"/api/v1/letters/{letter.slug}/timeline?bucket=hour")
    assert response.status_code == 200
    data = response.json()
    assert data["bucket"] == "hour"
    counts = [p["count"] for p in data["points"]]
    assert counts == [60, 107]  # 2+2+40 merge; the thin tail (3) joins the last point
    assert data["points"][0]["t"] == START.isoformat()
    assert data["points"][-1]["t"] == (START + timedelta(hours=5)).isoformat()
    assert counts[-1] == letter.signature_count
    assert "max-age" in response["Cache-Control"]


def test_the_timeline_by_day_and_as_csv(client, letter):
    add_signatures(letter, [60] + [0] * 23 + [50])
    day = client.get(f"/api/v1/letters/{letter.slug}/timeline?bucket=day").json()
    assert day["bucket"] == "day"
    assert [p["count"] for p in day["points"]] == [60, 110]
    response = client.get(f"/api/v1/letters/{letter.slug}/timeline?bucket=day&format=csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == [["t", "count"], [START.replace(hour=0).isoformat(), "60"], [rows[2][0], "110"]]


def test_small_and_members_only_letters_are_shown_by_day_only(client, organizer):
    small = make_letter([organizer], slug="small")
    add_signatures(small, [6, 6])
    data = client.get("/api/v1/letters/small/timeline?bucket=hour").json()
    assert data["bucket"] == "day" and [p["count"] for p in data["points"]] == [12]
    inside = make_letter([organizer], slug="inside", visibility=Letter.Visibility.MEMBERS)
    add_signatures(inside, [100, 100])
    assert client.get("/api/v1/letters/inside/timeline?bucket=hour").json()["bucket"] == "day"


def test_the_timeline_answers_bad_input_with_a_message(client, letter):
    for query in ("bucket=minute", "format=xml"):
        response = client.get(f"/api/v1/letters/{letter.slug}/timeline?{query}")
        assert response.status_code == 400 and "error" in response.json()
    assert client.get("/api/v1/letters/nope/timeline").status_code == 404
    hidden = make_letter([], slug="hidden", visibility=Letter.Visibility.MEMBERS, hide_count=True)
    assert client.get(f"/api/v1/letters/{hidden.slug}/timeline").status_code == 403
    assert client.get(f"/l/{hidden.slug}/growth.svg").status_code == 404


def test_the_count_and_the_timeline_answer_other_sites_but_nothing_else_does(client, letter):
    base = f"/api/v1/letters/{letter.slug}"
    for path in (f"{base}/count", f"{base}/timeline"):
        response = client.get(path, HTTP_ORIGIN="https://news.example")
        assert response["Access-Control-Allow-Origin"] == "*", path
        assert "Access-Control-Allow-Credentials" not in response
    for path in (base, f"{base}/signatures", f"{base}/events", f"/l/{letter.slug}/"):
        response = client.get(path, HTTP_ORIGIN="https://news.example")
        assert "Access-Control-Allow-Origin" not in response, path


def test_the_chart_parses_with_a_title_and_one_point_per_bucket(client, letter):
    add_signatures(letter, [60] + [0] * 23 + [50])
    response = client.get(f"/l/{letter.slug}/growth.svg")
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    root = ET.fromstring(response.content)  # noqa: S314  (our own answer, in a test)
    assert root.tag == f"{SVG}svg"
    assert "Clean air for Riverside" in root.find(f"{SVG}title").text
    desc = root.find(f"{SVG}desc").text
    assert "60" in desc and "110" in desc
    points = client.get(f"/api/v1/letters/{letter.slug}/timeline?bucket=day").json()["points"]
    assert len(root.findall(f".//{SVG}circle")) == len(points) == 2
    page = client.get(f"/l/{letter.slug}/").content.decode()
    assert 'src="/l/clean-air/growth.svg"' in page
    assert "<td>110</td>" in page  # the same numbers as a table


def test_the_breakdown_folds_small_groups(client, organizer):
    letter = make_letter([organizer], slug="works", domains="example.com")
    add_signatures(letter, [30], department="Engineering", verified_domain="example.com")
    add_signatures(letter, [5], department="Legal")
    add_signatures(letter, [2], department="HR")
    add_signatures(letter, [6], department="Sales", verified_domain="example.com")
    for name, n in (("Engineering", 30), ("Legal", 5), ("HR", 2), ("Sales", 6)):
        Tally.objects.create(
            letter=letter, dimension=Tally.Dimension.DEPARTMENT, key=name, signatures=n
        )
    breakdown = client.get("/api/v1/letters/works").json()["breakdown"]
    # HR's 2 would single people out: with the smallest shown group (Legal), they are "other".
    assert breakdown["department"] == {"Engineering": 30, "Sales": 6, "other": 7}
    assert breakdown["verification"] == {
        "email at example.com": 36,
        "email, not at the organization": 7,
    }
    page = client.get("/l/works/").content.decode()
    assert 'id="breakdown-department"' in page and ">HR<" not in page.split('id="growth"')[1]


def test_the_badge_shows_the_same_number_as_the_api(client, letter):
    Letter.objects.filter(pk=letter.pk).update(signature_count=1234)
    response = client.get(f"/l/{letter.slug}/badge.svg", HTTP_ORIGIN="https://x.example")
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "max-age" in response["Cache-Control"]
    api = client.get(f"/api/v1/letters/{letter.slug}/count").json()["signature_count"]
    root = ET.fromstring(response.content)  # noqa: S314  (our own answer, in a test)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts == ["signatures", f"{api:,}"] == ["signatures", "1,234"]


def test_only_the_embed_may_be_framed_and_it_sets_no_cookie(client, letter):
    embed = client.get(f"/l/{letter.slug}/embed/")
    assert embed.status_code == 200
    assert "frame-ancestors *" in embed["Content-Security-Policy"]
    assert "X-Frame-Options" not in embed
    assert not embed.cookies
    html = embed.content.decode()
    assert 'id="signature-count"' in html and f"/l/{letter.slug}/#sign" in html
    assert not re.search(r'(src|href)="https?://(?!testserver)', html.replace(letter.share_url, ""))
    for path in (f"/l/{letter.slug}/", "/", f"/l/{letter.slug}/growth.svg", "/accounts/login/"):
        response = client.get(path)
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"], path
        assert response["X-Frame-Options"] == "DENY", path


def test_members_only_letters_have_no_embed_and_a_hidden_count_no_badge(client, organizer):
    inside = make_letter([organizer], slug="inside", visibility=Letter.Visibility.MEMBERS)
    assert client.get("/l/inside/embed/").status_code == 404
    assert client.get("/l/inside/badge.svg").status_code == 200
    Letter.objects.filter(pk=inside.pk).update(hide_count=True)
    from undersigned.web.caching import recent

    recent.clear()
    assert client.get("/l/inside/badge.svg").status_code == 404


def test_the_snippets_are_on_the_page_and_in_the_workspace(client, letter, organizer):
    page = client.get(f"/l/{letter.slug}/").content.decode()
    for snippet in ('id="badge-markdown"', 'id="badge-html"', 'id="embed-html"'):
        assert snippet in page
    assert f"{letter.share_url}badge.svg" in page and f"{letter.share_url}embed/" in page
    client.force_login(organizer)
    workspace = client.get(f"/organize/{letter.slug}/").content.decode()
    assert 'id="badge-markdown"' in workspace and 'id="embed-html"' in workspace


def test_the_share_card_is_a_1200_by_630_png_rendered_once_per_rounding_step(
    client, letter, monkeypatch
):
    from PIL import Image

    from undersigned.lib import card

    assert card.rounded(57) == (57, False)
    assert card.rounded(1234) == (1200, True) and card.rounded(1200) == (1200, False)
    renders = []
    real = card.render
    monkeypatch.setattr(card, "render", lambda *a: renders.append(a) or real(*a))
    Letter.objects.filter(pk=letter.pk).update(signature_count=1234)
    response = client.get(f"/l/{letter.slug}/card.png")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(response.content)).size == (1200, 630)
    assert renders[-1] == ("Clean air for Riverside", "1,200+ signed", "Riverside Council")
    Letter.objects.filter(pk=letter.pk).update(signature_count=1250)
    from undersigned.web.caching import recent

    recent.clear()
    client.get(f"/l/{letter.slug}/card.png")
    assert len(renders) == 1  # same step: the cached card
    Letter.objects.filter(pk=letter.pk).update(signature_count=1300)
    recent.clear()
    client.get(f"/l/{letter.slug}/card.png")
    assert len(renders) == 2 and renders[-1][1] == "1,300 signed"
    tags = client.get(f"/l/{letter.slug}/").content.decode()
    assert f'property="og:image" content="{letter.share_url}card.png"' in tags
    assert 'name="twitter:card" content="summary_large_image"' in tags


def test_a_process_computes_a_letters_growth_once_however_many_ask_at_once():
    """At a million signatures computing the growth reads every one of them: requests that
    arrive while one computes must not compute it again, each on a thread of its own."""
    import threading
    import time

    from django.core.cache import cache

    from undersigned.letters import growth

    cache.delete("test-growth-key")
    calls = []
    started = threading.Event()

    def compute():
        calls.append(1)
        started.set()
        time.sleep(0.3)  # long enough for the others to arrive while it runs
        return [{"t": "2026-01-01T00:00:00+00:00", "count": 7}]

    results = []
    first = threading.Thread(
        target=lambda: results.append(growth._computed_once("test-growth-key", compute))
    )
    first.start()
    assert started.wait(5)
    others = [
        threading.Thread(
            target=lambda: results.append(growth._computed_once("test-growth-key", compute))
        )
        for _ in range(3)
    ]
    for thread in others:
        thread.start()
    for thread in [first, *others]:
        thread.join(10)
    assert len(calls) == 1
    assert results == [[{"t": "2026-01-01T00:00:00+00:00", "count": 7}]] * 4


def test_one_letters_growth_being_computed_keeps_no_other_letter_waiting():
    """A small letter's first reader must not wait for a big letter's computation (at a
    million signatures, seconds) in the same process."""
    import threading

    from django.core.cache import cache

    from undersigned.letters import growth

    cache.delete("test-big")
    cache.delete("test-small")
    started, release = threading.Event(), threading.Event()

    def slow():
        started.set()
        assert release.wait(10)
        return "big"

    big = threading.Thread(target=lambda: growth._computed_once("test-big", slow))
    big.start()
    assert started.wait(5)
    try:
        done = []
        small = threading.Thread(
            target=lambda: done.append(growth._computed_once("test-small", lambda: "small"))
        )
        small.start()
        small.join(2)
        assert done == ["small"]  # while the big one is still being computed
    finally:
        release.set()
        big.join(10)
