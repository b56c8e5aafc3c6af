"""Letter bodies are Markdown; hostile HTML and JavaScript never run."""

from html.parser import HTMLParser

import pytest

from undersigned.lib.markdown import render_markdown


def test_it_renders_markdown():
    html = render_markdown("# Title\n\n**bold** and [a link](https://example.org)")
    assert "<h1>Title</h1>" in html and "<strong>bold</strong>" in html
    assert '<a href="https://example.org" rel="nofollow noopener noreferrer">a link</a>' in html


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "<iframe src='https://evil.example'></iframe>",
        '<a href="javascript:alert(1)">x</a>',
        "![x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        '<div style="background:url(javascript:alert(1))">x</div>',
    ],
)
def test_hostile_html_never_runs(hostile):
    tags = Elements()
    tags.feed(render_markdown(hostile))
    for tag, attributes in tags.found:
        assert tag in {"p", "a"}, tag
        for name, value in attributes:
            assert not name.startswith("on") and name != "style"
            if name == "href":
                assert value.startswith(("http:", "https:", "mailto:")), value


class Elements(HTMLParser):
    """The elements and attributes a browser would build from the HTML."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, attrs))
