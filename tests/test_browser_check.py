"""tools/browser_check.py without a browser: which pages it reads, the trial's broken formula, and
the error when no Chromium is installed (the browser run itself is `make check-browser`)."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import browser_check  # noqa: E402

MATH = '<span class="math notranslate nohighlight">\\(a + b\\)</span>'


@pytest.fixture
def book(tmp_path):
    html = tmp_path / "html"
    (html / "book").mkdir(parents=True)
    (html / "_static").mkdir()
    (html / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=book/intro.html" />')
    (html / "book" / "intro.html").write_text("<p>no formula</p>")
    (html / "book" / "mae.html").write_text(f"<p>{MATH} and {MATH}</p>")
    for skipped in ("genindex.html", "search.html", "_static/theme.html"):
        (html / skipped).write_text("<p></p>")
    return html


def test_the_reader_pages_are_read_and_not_the_redirect_index_or_search(book):
    assert [p.relative_to(book).as_posix() for p in browser_check.book_pages(book)] == ["book/intro.html", "book/mae.html"]


def test_the_trial_breaks_exactly_one_formula_in_a_copy(book, tmp_path):
    page = browser_check.broken_copy(book, tmp_path / "copy")
    assert page.name == "mae.html"
    text = page.read_text()
    assert text.count("{\\frac{1}}") == 1 and text.count("a + b") == 2
    assert "frac" not in (book / "book" / "mae.html").read_text()  # the book itself is untouched


def test_no_browser_is_a_clear_error_with_the_install_command(book, monkeypatch, capsys):
    monkeypatch.setenv("CHROMIUM", "/no/such/chrome")
    assert browser_check.main([str(book)]) == 2
    err = capsys.readouterr().err
    assert "no Chromium found" in err and "apt-get install" in err and "make browser" in err
    monkeypatch.delenv("CHROMIUM")
    monkeypatch.setenv("PATH", "")
    assert browser_check.find_chromium() is None


def test_a_folder_without_a_built_book_is_refused(tmp_path):
    with pytest.raises(SystemExit):
        browser_check.main([str(tmp_path)])
