"""Each script once per page.

sphinx-thebe (loaded by Jupyter Book whether or not a page uses Thebe) registers its inline
configuration script when the documents are read, after the HTML builder has taken the registered
scripts, so Sphinx lists it twice and every page threw "Identifier 'THEBE_JS_URL' has already been
declared" in the reader's console (tools/browser_check.py reports console errors). This drops the
second copy of any script, file or inline body, that a page lists twice (the two copies differ
only in a filename of None and "", so they are compared by filename or "" and body).
"""


def _drop_repeated_scripts(app, pagename, templatename, context, doctree):
    seen, kept = set(), []
    for script in context.get("script_files", []):
        key = (getattr(script, "filename", str(script)) or "", getattr(script, "attributes", {}).get("body"))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app):
    app.connect("html-page-context", _drop_repeated_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
