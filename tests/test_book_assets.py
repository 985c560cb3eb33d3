"""The book's own assets: the CJK glyphs it ships and the one-copy-per-script page extension."""
import importlib.util
import re
import sys
from pathlib import Path

from fontTools.ttLib import TTFont

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from subset_cjk_font import FONT, LICENSE, book_characters, is_cjk  # noqa: E402


def test_every_cjk_character_of_the_book_is_in_the_shipped_font():
    chars = book_characters()
    assert chars, "the book quotes the papers' Japanese and Korean titles"
    cmap = TTFont(FONT).getBestCmap()
    missing = sorted(ch for ch in chars if ord(ch) not in cmap)
    assert not missing, f"rerun tools/subset_cjk_font.py: the font lacks {''.join(missing)}"


def test_the_collection_sees_japanese_and_korean_and_nothing_else():
    assert is_cjk("学") and is_cjk("の") and is_cjk("윤") and not is_cjk("é") and not is_cjk("A")
    assert {"人", "윤"} <= book_characters()


def test_the_style_sheet_loads_the_font_for_cjk_code_points_only_and_the_licence_ships():
    css = (ROOT / "book" / "_static" / "mae-study.css").read_text()
    url = re.search(r'url\("([^"]+)"\)', css).group(1)
    assert (ROOT / "book" / "_static" / url).resolve() == FONT.resolve()
    assert "unicode-range" in css and "U+0000" not in css
    assert TTFont(FONT).flavor == "woff"
    assert "SIL OPEN FONT LICENSE Version 1.1" in LICENSE.read_text()


def _page_scripts():
    spec = importlib.util.spec_from_file_location("page_scripts", ROOT / "book" / "_ext" / "page_scripts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_script_listed_twice_is_kept_once_and_order_is_kept():
    from sphinx.builders.html._assets import _JavaScript
    thebe = "const THEBE_JS_URL = 1"
    scripts = [_JavaScript("a.js"), _JavaScript(None, body=thebe), _JavaScript("b.js"),
               _JavaScript("", body=thebe), _JavaScript("a.js"), _JavaScript(None, body="other")]
    context = {"script_files": scripts}
    _page_scripts()._drop_repeated_scripts(None, "p", "page.html", context, None)
    kept = [(s.filename or "", s.attributes.get("body")) for s in context["script_files"]]
    assert kept == [("a.js", None), ("", thebe), ("b.js", None), ("", "other")]
