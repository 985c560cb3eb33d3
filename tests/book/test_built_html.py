"""Checks of a built book (run by `make test` after the build; MAE_STUDY_HTML names the folder).

A page can build without an error and still show a reader something broken: a raw Python object
instead of a table, an image that is not there, a link to a page or anchor that does not exist,
or formula source that MathJax never saw.
"""
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

HTML = Path(os.environ.get("MAE_STUDY_HTML", "_build/ci/_build/html"))
pytestmark = pytest.mark.skipif(not (HTML / "index.html").exists(),
                                reason=f"no built book at {HTML} (make test builds it, then runs these checks)")
PAGES = sorted(p for p in HTML.rglob("*.html") if p.name not in ("genindex.html", "search.html")
               and not p.relative_to(HTML).parts[0].startswith("_"))


class _Page(HTMLParser):
    """Links, images, ids, and the visible text outside math, scripts and styles."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links, self.images, self.ids, self.text = [], [], set(), []
        self._skip = []  # stack of tags whose text is not plain visible text

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "img":
            self.images.append(a.get("src", ""))
        classes = (a.get("class") or "").split()
        if tag in ("script", "style") or "math" in classes or (self._skip and tag not in ("br", "img", "hr")):
            self._skip.append(tag)

    def handle_endtag(self, tag):
        if self._skip and self._skip[-1] == tag:
            self._skip.pop()

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(errors="replace"))
    return page


def test_the_book_has_pages():
    assert len(PAGES) >= 4, PAGES


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(HTML)))
def test_no_raw_python_object_reprs(page):
    text = page.read_text(errors="replace")
    for pattern in ("<IPython.", "&lt;IPython.", "object at 0x", "<Figure size", "&lt;Figure size"):
        assert pattern not in text, f"{page.name} shows {pattern!r}: a display call printed a repr"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(HTML)))
def test_images_exist(page):
    for src in _parse(page).images:
        if src.startswith(("data:", "http:", "https:")):
            continue
        assert (page.parent / unquote(urlparse(src).path)).exists(), f"{page.name}: missing image {src}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(HTML)))
def test_internal_links_resolve(page):
    parsed = {}
    for href in _parse(page).links:
        url = urlparse(href)
        if url.scheme or href.startswith("mailto:"):
            continue
        target = (page.parent / unquote(url.path)).resolve() if url.path else page
        assert target.exists(), f"{page.name}: link to a missing file {href}"
        if url.fragment and target.suffix == ".html":
            ids = parsed.setdefault(target, _parse(target).ids)
            assert url.fragment in ids, f"{page.name}: link to a missing anchor {href}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(HTML)))
def test_no_unrendered_math_source(page):
    text = " ".join(_parse(page).text)
    for source in (re.search(r"\$\$", text), re.search(r"\\(frac|begin\{|mathrm|sum_|left\()", text),
                   re.search(r"\{(math|eq)\}`", text)):
        assert source is None, f"{page.name}: math source outside MathJax: ...{text[max(0, source.start() - 60):source.end() + 60]}..."


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(HTML)))
def test_no_cell_failed(page):
    """A cell that raised leaves its traceback on the page (a build without -W, or a stale one)."""
    text = " ".join(_parse(page).text)
    assert "Traceback (most recent call last)" not in text, f"{page.name} shows a cell's traceback"
