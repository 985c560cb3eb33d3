"""The commands that the README, the book's pages and the notebooks' headers tell a reader to run.

`documented_commands` collects every ``papermill notebooks/...`` and ``python -m mae_study.sweep``
command from those files (fenced code blocks and inline code, joined across line breaks), so a
test can run each of them (`at_profile` rewrites it to a small profile): a renamed notebook or
parameter then fails CI instead of a reader.
"""
from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from pathlib import Path

from mae_study.paths import REPO_ROOT

_STARTS = ("papermill notebooks/", "python -m mae_study.sweep ")


def documentation_files(root: Path = REPO_ROOT) -> list[Path]:
    """README, then the book's pages (the introduction first), then the notebooks' sources."""
    book = sorted((root / "book").glob("*.md"), key=lambda p: (p.name != "intro.md", p.name))
    return [root / "README.md", *book, *sorted((root / "notebooks" / "src").glob("*.py"))]


def _commands_in(text: str) -> list[str]:
    found = []
    shell = r"```(?:bash|sh|console|)\n(.*?)```"  # shell blocks: one command a line
    for block in re.findall(shell, text, flags=re.S):
        found += [line.split(" #")[0].strip() for line in block.splitlines()]
    text = re.sub(shell, "", text, flags=re.S)  # other blocks (the book's code cells) hold inline code
    text = re.sub(r"^\s*```.*$", "", text, flags=re.M)  # their fences would pair with inline backticks
    found += [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", text)]  # inline code
    return [c for c in found if c.startswith(_STARTS)]


def documented_commands(root: Path = REPO_ROOT, extra: Sequence[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """(file, command) of every documented command, in reading order, each command once; ``extra``
    (where, command) last: the chapters' exercises, which the pages render from the package
    (`mae_study.classroom.commands`)."""
    out, seen = [], set()
    found = []
    for path in documentation_files(root):
        text = path.read_text()
        if path.suffix == ".py":  # percent-format notebook sources: comments hold the text
            text = "\n".join(line[2:] if line.startswith("# ") else line for line in text.splitlines())
        found += [(str(path.relative_to(root)), command) for command in _commands_in(text)]
    found += list(extra)
    for where, command in found:
        if command not in seen:
            seen.add(command)
            out.append((where, command))
    return out


def at_profile(command: str, profile: str, out_dir: Path) -> list[str]:
    """The command as an argument list at ``profile``, writing its notebook into ``out_dir``."""
    args = shlex.split(command)
    if args[0] == "papermill":
        args = ["-m", "papermill", args[1], str(out_dir / Path(args[1]).name), *args[3:]]
        for i, a in enumerate(args[:-1]):
            if a == "-p" and args[i + 1] == "profile":
                args[i + 2] = profile
                break
        else:
            args += ["-p", "profile", profile]
        return args
    args = args[1:]  # -m mae_study.sweep ...
    if "--profile" in args:
        args[args.index("--profile") + 1] = profile
    else:
        args += ["--profile", profile]
    return args
