"""Write the book's CJK font: the glyphs of every Japanese and Korean character the book shows.

The papers' original titles are Japanese and Korean. A reader's laptop without a CJK font would show
them as empty boxes, so the book ships the few dozen glyphs it needs, cut from Noto Sans CJK (SIL
Open Font License 1.1, copied beside the font), as one small WOFF file that book/_static/mae-study.css
loads for CJK code points only. Rerun after adding CJK text to a page:

    apt-get download fonts-noto-cjk && dpkg -x fonts-noto-cjk_*.deb /tmp/noto
    .venv/bin/python tools/subset_cjk_font.py /tmp/noto/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc

`tests/test_cjk_font.py` fails when a page holds a CJK character the font lacks.
"""
import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

ROOT = Path(__file__).resolve().parents[1]
FONT = ROOT / "book" / "_static" / "fonts" / "mae-study-cjk.woff"
LICENSE = FONT.with_name("OFL.txt")
SOURCES = ("book/*.md", "mae_study/**/*.py")
# Hiragana, katakana, CJK punctuation, unified ideographs, Hangul syllables and jamo, full-width forms.
RANGES = ((0x3000, 0x30FF), (0x3130, 0x318F), (0x4E00, 0x9FFF), (0xAC00, 0xD7AF), (0xFF00, 0xFFEF))
FACE = "Noto Sans CJK JP"  # Japanese glyph forms; the collection's JP face also covers Hangul


def is_cjk(ch: str) -> bool:
    return any(lo <= ord(ch) <= hi for lo, hi in RANGES)


def book_characters(root: Path = ROOT) -> set:
    """Every CJK character in the book's pages and in the text the package renders into them."""
    chars = set()
    for pattern in SOURCES:
        for path in sorted(root.glob(pattern)):
            chars.update(ch for ch in path.read_text(encoding="utf-8") if is_cjk(ch))
    return chars


def main(source: str) -> None:
    collection = TTCollection(source)
    faces = [f for f in collection.fonts if f["name"].getDebugName(4) == FACE]
    if not faces:
        sys.exit(f"{source} has no face named {FACE!r}")
    font = faces[0]
    chars = book_characters()
    missing = sorted(ch for ch in chars if ord(ch) not in font.getBestCmap())
    if missing:
        sys.exit(f"{FACE} lacks {''.join(missing)}")
    options = subset.Options()
    options.flavor = "woff"
    options.layout_features = ["*"]
    options.name_IDs = ["*"]  # keep the copyright and licence records
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(map(ord, chars)))
    subsetter.subset(font)
    FONT.parent.mkdir(parents=True, exist_ok=True)
    font.flavor = "woff"
    font.save(FONT)
    print(f"{FONT.relative_to(ROOT)}: {len(chars)} characters, {FONT.stat().st_size} bytes")
    if not LICENSE.exists():
        sys.exit(f"copy the SIL Open Font License 1.1 of Noto CJK to {LICENSE.relative_to(ROOT)}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
