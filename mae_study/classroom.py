"""The book for a class: every chapter's exercises, in the book's order (`report.exercises`).

Like `mae_study.sweep` for the plans, this is the one module that knows which chapters have
exercises and on which page they appear; the pages and the teacher's page call it:

    classroom.render("dynmask", "cpu")      # a chapter's exercises as Markdown
    classroom.teacher_list("cpu")           # every exercise, what it shows, its recorded cost
    classroom.commands()                    # (page, command) for the documented-commands test
"""
from __future__ import annotations

import pandas as pd

from mae_study.chapters.ablations import exercises as ablations
from mae_study.chapters.dynmask import exercises as dynmask
from mae_study.chapters.kd import exercises as kd
from mae_study.chapters.ladder import exercises as ladder
from mae_study.chapters.mae import exercises as mae
from mae_study.chapters.synthetic import exercises as synthetic
from mae_study.report import exercises
from mae_study.report.exercises import Exercise

# chapter package -> (book page, title, its exercises), in the book's order
CHAPTERS = {
    "ladder": ("data", "The data", ladder.EXERCISES),
    "mae": ("mae", "Masked autoencoders", mae.EXERCISES),
    "ablations": ("mae_ablations", "The MAE ablations", ablations.EXERCISES),
    "dynmask": ("dynmask", "Dynamic masking", dynmask.EXERCISES),
    "kd": ("kd", "Multi-teacher distillation", kd.EXERCISES),
    "synthetic": ("synthetic", "Synthetic pre-training", synthetic.EXERCISES),
}


def chapter_exercises(chapter: str) -> tuple[Exercise, ...]:
    if chapter not in CHAPTERS:
        raise ValueError(f"chapter must be one of {list(CHAPTERS)}, got {chapter!r}")
    return CHAPTERS[chapter][2]


def all_exercises() -> list[tuple[str, Exercise]]:
    """(book page, exercise) for every chapter, in the book's order."""
    return [(page, e) for page, _, found in CHAPTERS.values() for e in found]


def render(chapter: str, profile: str) -> str:
    return exercises.render(chapter_exercises(chapter), profile)


def _entries() -> list[tuple[str, Exercise]]:
    return [(title, e) for _, title, found in CHAPTERS.values() for e in found]


def overview(profile: str) -> pd.DataFrame:
    return exercises.overview(_entries(), profile)


def teacher_list(profile: str) -> str:
    return exercises.teacher_list(_entries(), profile)


def commands() -> list[tuple[str, str]]:
    """(where, command) of every exercise, as the documented-commands test collects them."""
    return [(f"book/{page}.md (exercise)", e.command()) for page, e in all_exercises()]
