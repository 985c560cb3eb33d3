"""Multi-teacher knowledge distillation from a contrastive and a masked-image teacher (the
multi-teacher distillation paper's method): every run behind the chapter, in the order they depend
on each other.

    teachers      kd_dino_teacher, kd_mae_teacher        (`teachers`, `dino`)
    attention     kd_attention: distance per layer and head, Attention Confidence   (`attention`)
    adaptation    kd_adapt: full / linear / Partial-1 of each teacher (Table 1)     (`adapt`)
    students      kd_student: alone, KD from DINO, from MAE, from both (Table 2), and the
                  ablations the paper does not run                                  (`student`)

`plan(profile)` lists them for `mae_study.sweep` as (experiment, run name, parameters, run
function); the chapter's tables, claims and figures read the runs back (`tables`,
`claims`, `figures`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import pandas as pd

from mae_study.chapters.kd.adapt import KD_ADAPT, MODES, adapt_params, run_adapt
from mae_study.chapters.kd.attention import KD_ATTENTION, run_attention
from mae_study.chapters.kd.student import KD_STUDENT, run_student
from mae_study.chapters.kd.teachers import EXPERIMENTS, KD_DINO_TEACHER, KD_MAE_TEACHER, RUNNERS, TEACHERS  # noqa: F401
from mae_study.runs import rungs
from mae_study.runs.params import Experiment, check_profile
from mae_study.runs.skeleton import auto_run_name

TABLE2 = {"alone": {"teachers": "none"},
          "DINO": {"teachers": "dino", "stages": "two", "attention": False},
          "MAE": {"teachers": "mae", "stages": "two", "attention": False},
          "DINO + MAE": {}}
"""The paper's Table 2 rows: the student alone (DeiT-Ti), KD from one fine-tuned teacher (output KD,
teachers adapted first), and the paper's method (the `KD_STUDENT` defaults: both teachers,
Partial-1 in one stage, output and attention KD, l1 = 0.5, l2 = 0)."""

ABLATIONS = {"no attention KD": {"attention": False},
             "l1 = 0 (MAE outputs only)": {"l1": 0.0}, "l1 = 1 (DINO outputs only)": {"l1": 1.0},
             "l2 = 0.5": {"l2": 0.5}, "l2 = 1 (DINO attention only)": {"l2": 1.0},
             "random head": {"head": "random"}, "mean over heads": {"head": "mean"},
             "two stages, fine-tuned teachers": {"stages": "two"},
             "two stages, Partial-1 teachers": {"stages": "two", "teacher_mode": "partial-1"},
             "temperature 4": {"temperature": 4.0}}
"""What the paper does not vary, each a change of its method (the "DINO + MAE" row of Table 2)."""


@dataclass(frozen=True)
class KDGrid:
    """The runs of the chapter at one profile."""

    teacher_seeds: tuple[int, ...]   # pre-trainings of each teacher
    adapt_seeds: tuple[int, ...]     # adaptations of each teacher in each mode (Table 1's spread)
    table2_seeds: tuple[int, ...]    # students of each Table 2 row
    ablation_seeds: tuple[int, ...]  # students of each ablation
    ablations: tuple[str, ...] = tuple(ABLATIONS)
    modes: tuple[str, ...] = MODES


GRIDS = {
    "ci": KDGrid((0,), (0,), (0,), (0,), ("no attention KD", "two stages, Partial-1 teachers")),
    # cpu: six ablations (the rest run at gpu) so that the whole sweep fits 30 minutes on 2 cores
    "cpu": KDGrid((0,), (0, 1), (0, 1, 2), (0, 1),
                  ("no attention KD", "l1 = 0 (MAE outputs only)", "l1 = 1 (DINO outputs only)",
                   "l2 = 1 (DINO attention only)", "random head", "two stages, fine-tuned teachers")),
    "gpu": KDGrid((0,), (0, 1), (0, 1, 2), (0, 1)),
    "paper": KDGrid((0,), (0,), (0, 1, 2), (0,)),
}


def student_arms(profile: str) -> dict[str, tuple[str, dict]]:
    """Run name -> (arm, parameters given) of every student of the grid: Table 2's rows, then
    the ablations (a run that is both, the paper's method, keeps its Table 2 arm)."""
    g = GRIDS[check_profile(profile)]
    arms = [(name, TABLE2[name], g.table2_seeds) for name in TABLE2]
    arms += [(name, ABLATIONS[name], g.ablation_seeds) for name in g.ablations]
    out: dict[str, tuple[str, dict]] = {}
    for arm, change, seeds in arms:
        for seed in seeds:
            given = {**change, "seed": seed}
            out.setdefault(auto_run_name(KD_STUDENT.resolve(profile, **given)), (arm, given))
    return out


def plan(profile: str) -> list[tuple[str, str, Any, Callable]]:
    """(experiment, run name, parameters, run function) of every run of the chapter, in order:
    teachers, attention analyses, adaptations, students."""
    g = GRIDS[check_profile(profile)]
    out, teacher_runs = [], []
    for seed in g.teacher_seeds:
        for teacher in TEACHERS:
            p = EXPERIMENTS[teacher].resolve(profile, seed=seed)
            out.append((EXPERIMENTS[teacher].name, auto_run_name(p), p, RUNNERS[teacher]))
            teacher_runs.append((teacher, out[-1][1]))
    for teacher, name in teacher_runs:
        p = KD_ATTENTION.resolve(profile, teacher=teacher, teacher_run=name)
        out.append((KD_ATTENTION.name, auto_run_name(p), p, run_attention))
    for teacher, name in teacher_runs:
        for mode in g.modes:
            for seed in g.adapt_seeds:
                p = adapt_params(profile, teacher, mode, seed, teacher_run=name)
                out.append((KD_ADAPT.name, auto_run_name(p), p, run_adapt))
    students = [(KD_STUDENT.name, name, KD_STUDENT.resolve(profile, **given), run_student)
                for name, (_, given) in student_arms(profile).items()]
    return out + rungs.probe_entries([p for _, _, p, _ in students]) + students


def plan_frame(profile: str) -> pd.DataFrame:
    """The plan as a table: experiment, run, and for students their arm."""
    arms = student_arms(profile)
    return pd.DataFrame([{"experiment": e, "run": n, "arm": arms.get(n, ("", None))[0]}
                         for e, n, _, _ in plan(profile)])


def _check_modes(p) -> None:
    for mode in p["modes"]:
        if mode not in MODES:
            raise ValueError(f"modes must be a list of {MODES}, got {p['modes']!r}")


KD_TEACHERS_NOTEBOOK = Experiment("kd_teachers_notebook", {profile: {"seed": 0, "modes": list(MODES), "adapt_seed": 0}
                                                          for profile in GRIDS}, _check_modes)
"""Notebook 08's parameters: the teachers' pre-training seed, the adaptation modes and seed."""

KD_SWEEP = Experiment("kd_sweep", {profile: {} for profile in GRIDS})
"""Notebook 10's parameters: only ``profile``."""
