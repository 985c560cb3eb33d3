"""Read every page of a built book in headless Chromium, offline, as a reader's browser shows it.

    python tools/browser_check.py _build/ci/_build/html          # every page; exit 1 on a problem
    python tools/browser_check.py --trial _build/ci/_build/html  # ...and a broken formula must fail

A page fails when MathJax left a formula untypeset or typeset it as an error, the console reports
an error (a script exception, a file that did not load), an image did not decode, a table is wider
than the text column without a scrolling box of its own or shows pandas' row numbers, or text in
Japanese or Korean is drawn by any font other than the book's own CJK font (so a laptop without
one shows no empty boxes).
Chromium is driven through its DevTools protocol over a pipe (no driver, no package); `make
browser` installs it from the machine's package manager when it is missing, or set CHROMIUM.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cdp_pipe import Browser  # noqa: E402

WIDTH, HEIGHT = 1366, 768  # a common laptop screen
INSTALL = "make browser   (apt-get install -y --no-install-recommends chromium; or set CHROMIUM=/path/to/chrome)"

# Returns {problems: [...], cjk: n}; marks each element whose own text holds CJK characters.
PAGE_CHECK = r"""
(async () => {
  const problems = [];
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  for (const m of document.querySelectorAll('.math')) {
    const src = m.textContent.trim().slice(0, 80);
    const box = m.querySelector('mjx-container');
    if (!box) { problems.push('formula not typeset: ' + src); continue; }
    const err = m.querySelector('[data-mjx-error], mjx-merror');
    if (err) problems.push('formula error (' + (err.getAttribute('data-mjx-error') || 'merror') + '): ' + src);
  }
  for (const img of document.images) {
    try { await img.decode(); } catch (e) {}
    if (!img.complete || img.naturalWidth === 0) problems.push('image not decoded: ' + img.getAttribute('src'));
  }
  const column = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  const right = column.getBoundingClientRect().right;
  for (const table of column.querySelectorAll('table')) {
    let el = table.parentElement, scroller = null;
    while (el && el !== column) {
      const ox = getComputedStyle(el).overflowX;
      if (ox === 'auto' || ox === 'scroll') { scroller = el; break; }
      el = el.parentElement;
    }
    const box = (scroller || table).getBoundingClientRect();
    if (box.right > right + 1) {
      const head = (table.querySelector('th, td') || table).textContent.trim().slice(0, 40);
      problems.push(`table wider than its column (${Math.round(box.right - right)} px past it, ` +
                    `${scroller ? 'its scrolling box' : 'no scrolling box'}): "${head}"`);
    }
  }
  for (const table of document.querySelectorAll('table')) {
    // pandas' row numbers: an index column of integers under an empty header cell
    const heads = [...table.querySelectorAll('tbody tr')].map(tr => tr.querySelector('th'));
    const corner = table.querySelector('thead tr th');
    if (heads.length > 1 && heads.every(th => th && /^\d+$/.test(th.textContent.trim()))
        && (!corner || corner.textContent.trim() === ''))
      problems.push(`table shows pandas' row numbers as its first column: "` +
                    (table.querySelector('thead') || table).textContent.trim().replace(/\s+/g, ' ').slice(0, 40) + '"');
  }
  await document.fonts.ready;
  const cjk = /[\u3000-\u30ff\u3130-\u318f\u4e00-\u9fff\uac00-\ud7af\uff00-\uffef]/;
  // Each run of CJK characters is wrapped in a span of its own, so that the fonts Chromium reports
  // for the span drew those characters and nothing else.
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const texts = [];
  while (walker.nextNode()) {
    const node = walker.currentNode, tag = node.parentElement.tagName;
    if (!['SCRIPT', 'STYLE'].includes(tag) && cjk.test(node.data) && node.parentElement.getClientRects().length)
      texts.push(node);
  }
  let n = 0;
  for (const node of texts) {
    const parts = node.data.split(/([\u3000-\u30ff\u3130-\u318f\u4e00-\u9fff\uac00-\ud7af\uff00-\uffef]+)/);
    const frag = document.createDocumentFragment();
    parts.forEach((part, i) => {
      if (i % 2) { const s = document.createElement('span'); s.textContent = part; s.setAttribute('data-cjk-check', ++n); frag.append(s); }
      else if (part) frag.append(part);
    });
    node.replaceWith(frag);
  }
  await document.fonts.ready;  // the spans are laid out and their fonts loaded before they are asked
  await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
  return {problems, cjk: n};
})()
"""


def check_page(browser: Browser, page: Path) -> list:
    """The problems a reader would meet on one page (empty when there are none)."""
    browser.open(page.resolve().as_uri())
    result = browser.evaluate(PAGE_CHECK)
    problems = list(result["problems"])
    for node, html in browser.marked_nodes("data-cjk-check"):
        fonts = browser.fonts_for(node)
        if not fonts or not all(f.get("isCustomFont") for f in fonts):
            drawn = [f"{f['familyName']}{' (the book’s)' if f.get('isCustomFont') else ''}" for f in fonts]
            problems.append(f"CJK text drawn by {drawn or 'no font'}, not only the book's font: {html[:80]}")
    problems += [f"console: {line}" for line in browser.take_errors()]
    return problems


def find_chromium() -> str | None:
    """CHROMIUM if it names an executable, else the first of chromium, chromium-browser and
    google-chrome on PATH; None when there is none."""
    given = os.environ.get("CHROMIUM")
    if given:
        return shutil.which(given)
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)


def book_pages(html: Path) -> list:
    """The reader's pages: not the index and search pages, the theme's files, or a redirect."""
    return sorted(p for p in html.rglob("*.html") if p.name not in ("genindex.html", "search.html")
                  and not p.relative_to(html).parts[0].startswith("_")
                  and 'http-equiv="Refresh"' not in p.read_text(encoding="utf-8", errors="replace")[:500])


def broken_copy(html: Path, tmp: Path) -> Path:
    """A copy of the book whose first formula holds "{\\frac{1}}", a fraction missing its denominator."""
    shutil.copytree(html, tmp / "html")
    for page in book_pages(tmp / "html"):
        text = page.read_text(encoding="utf-8")
        for opener in ('<span class="math notranslate nohighlight">\\(', '<div class="math notranslate nohighlight">\n\\['):
            if opener in text:
                page.write_text(text.replace(opener, opener + "{\\frac{1}}", 1), encoding="utf-8")
                return page
    raise SystemExit("the trial needs a page with a formula; the book has none")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("html", type=Path, help="the built book's html folder")
    ap.add_argument("--trial", action="store_true", help="also check that a deliberately broken formula fails")
    args = ap.parse_args(argv)
    if not (args.html / "index.html").exists():
        ap.error(f"html: no built book at {args.html} (make html builds it)")
    binary = find_chromium()
    if not binary:
        print(f"no Chromium found (CHROMIUM={os.environ.get('CHROMIUM', '')!r}, nor chromium, chromium-browser "
              f"or google-chrome on PATH): install it with\n    {INSTALL}", file=sys.stderr)
        return 2
    failed = 0
    with Browser(binary, WIDTH, HEIGHT) as browser:
        for page in book_pages(args.html):
            problems = check_page(browser, page)
            failed += bool(problems)
            print(f"{'FAIL' if problems else 'ok  '} {page.relative_to(args.html)}")
            for p in problems:
                print(f"     {p}")
        if args.trial:
            with tempfile.TemporaryDirectory() as tmp:
                page = broken_copy(args.html, Path(tmp))
                problems = check_page(browser, page)
                caught = any(p.startswith("formula error") for p in problems)
                print(f"{'ok  ' if caught else 'FAIL'} trial: a formula missing an argument on "
                      f"{page.name} is {'reported' if caught else 'NOT reported'}")
                failed += not caught
    print(json.dumps({"pages": len(book_pages(args.html)), "failed": failed}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
