"""The multi-teacher distillation chapter's runs as tables, and the paper's Tables 1 and 2 beside the
study's. Every function reads run files only (`load_runs`); the ``*_from`` functions are pure over
the tables, so they are tested on made-up ones.

Accuracies are in % (the paper's unit), means over seeds with their sample sd.
"""
from __future__ import annotations

import pandas as pd

from mae_study.chapters.kd.adapt import KD_ADAPT, MODES
from mae_study.chapters.kd.attention import KD_ATTENTION
from mae_study.chapters.kd.plan import ABLATIONS, GRIDS, TABLE2, student_arms
from mae_study.chapters.kd.student import KD_STUDENT
from mae_study.chapters.kd.teachers import EXPERIMENTS, TEACHERS
from mae_study.report.page import reference
from mae_study.report.tables import mean_spread
from mae_study.runs.params import check_profile
from mae_study.runs.results import find_runs, load_runs

PAPER_MODE = {"full": "finetune", "linear": "linear", "partial-1": "partial_1"}  # our modes -> the paper's rows
PAPER_ARM = {"alone": "baseline_deit_ti", "DINO": "DINO", "MAE": "MAE", "DINO + MAE": "DINO+MAE"}
REFERENCE_ARM = "DINO + MAE"  # the paper's method: what every ablation changes one thing of


def teacher_table(profile: str) -> pd.DataFrame:
    """One row per finished teacher run: how it was made and its final training loss (DINO's beside
    ln K, the loss of a teacher whose outputs have collapsed to uniform)."""
    rows = []
    for teacher, experiment in EXPERIMENTS.items():
        for _, r in load_runs(experiment.name, check_profile(profile)).iterrows():
            rows.append({"teacher": teacher, "run": r["run"], "images": r.get("config.data.num_images"),
                         "epochs": r.get("config.params.num_epochs"), "steps": r.get("final.num_steps"),
                         "final loss": r.get("final.final_loss"), "uniform loss (ln K)": r.get("final.uniform_loss"),
                         "imported from": r.get("config.weights_file"), "wall time (s)": r.get("prov.wall_time_s")})
    return pd.DataFrame(rows)


def adapt_table(profile: str) -> pd.DataFrame:
    """One row per finished adaptation: teacher, mode, seed, accuracy (%), trainable parameters."""
    runs = load_runs(KD_ADAPT.name, check_profile(profile))
    if runs.empty:
        return runs
    return pd.DataFrame({"run": runs["run"], "teacher": runs["config.params.teacher"],
                         "teacher_run": runs["config.params.teacher_run"], "mode": runs["config.params.mode"],
                         "seed": runs["config.params.seed"], "accuracy": 100 * runs["final.test_accuracy_last_k"],
                         "trainable_params": runs["final.trainable_params"],
                         "wall_time_s": runs["final.wall_time_s"]})


def table1_from(adapt: pd.DataFrame, paper: pd.DataFrame) -> pd.DataFrame:
    """The paper's Table 1 beside the study's: per mode the trainable parameters (millions) and each
    teacher's accuracy (%, mean and sd over adaptation seeds)."""
    rows = []
    for mode in MODES:
        here = adapt[adapt["mode"] == mode]
        if here.empty:
            continue
        ref = paper.set_index("method").loc[PAPER_MODE[mode]]
        row = {"method": mode, "trainable params (M)": here["trainable_params"].iloc[0] / 1e6,
               "paper params (M)": ref["trainable_params_M"]}
        for teacher, column in (("dino", "cl_dino_top1"), ("mae", "mim_mae_top1")):
            acc = here[here["teacher"] == teacher]["accuracy"]
            row.update({f"{teacher}": acc.mean(), f"{teacher} sd": acc.std(), f"paper {teacher}": ref[column]})
        row["seeds"] = int(here.groupby("teacher").size().min())
        rows.append(row)
    return pd.DataFrame(rows)


def table1(profile: str) -> pd.DataFrame:
    return table1_from(adapt_table(profile), reference("kd_table1_adaptation"))


def distance_table(profile: str) -> pd.DataFrame:
    """Attention distance (pixels) of every image, layer and head of each analysed teacher, with a
    ``teacher`` column: the rows of the runs' ``distance.csv``."""
    frames = []
    for run in find_runs(KD_ATTENTION.name, check_profile(profile)):
        df = run.read("distance.csv")
        params = run.read("config.json")["params"]
        df.insert(0, "teacher", params["teacher"])
        df.insert(1, "teacher_run", params["teacher_run"])
        frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def per_image_from(distance: pd.DataFrame) -> pd.DataFrame:
    """One value per teacher, layer and image: the distance averaged over heads (the paper's
    Figure 1 plots this mean)."""
    return distance.groupby(["teacher", "layer", "image"], as_index=False)["distance_px"].mean()


def distance_summary(profile: str) -> pd.DataFrame:
    """Per teacher and layer: mean distance over images (of the per-image mean over heads), its sd
    over images, and the range of the heads' own means."""
    distance = distance_table(profile)
    spread = mean_spread(per_image_from(distance), ["teacher", "layer"], "distance_px")
    heads = distance.groupby(["teacher", "layer", "head"])["distance_px"].mean().groupby(["teacher", "layer"])
    spread["head min"], spread["head max"] = heads.min().values, heads.max().values
    return spread.rename(columns={"mean": "distance (px)", "std": "sd over images", "n": "images"})[
        ["teacher", "layer", "distance (px)", "sd over images", "head min", "head max", "images"]]


def heads_table(profile: str) -> pd.DataFrame:
    """Attention Confidence of every head of each teacher's last layer, and the head it picks."""
    rows = []
    for run in find_runs(KD_ATTENTION.name, check_profile(profile)):
        conf = run.read("confidence.csv")
        last = conf[conf["layer"] == conf["layer"].max()]
        chosen = run.read("final.json")["chosen_head_last_layer"]
        for _, r in last.iterrows():
            rows.append({"teacher": run.read("config.json")["params"]["teacher"], "head": int(r["head"]),
                         "confidence": r["confidence"], "chosen": int(r["head"]) == chosen})
    return pd.DataFrame(rows)


def student_table(profile: str) -> pd.DataFrame:
    """One row per finished student run: its arm (`kd.student_arms`; "other" for runs outside the
    grid), the parameters that define it, accuracy (%) and the teachers' accuracy after it."""
    runs = load_runs(KD_STUDENT.name, check_profile(profile))
    if runs.empty:
        return runs
    arms = {name: arm for name, (arm, _) in student_arms(profile).items()}
    params = ["teachers", "stages", "attention", "l1", "l2", "head", "temperature", "teacher_mode", "seed"]
    out = pd.DataFrame({"run": runs["run"], "arm": runs["run"].map(arms).fillna("other"),
                        **{k: runs[f"config.params.{k}"] for k in params},
                        "accuracy": 100 * runs["final.test_accuracy_last_k"],
                        "wall_time_s": runs["final.wall_time_s"]})
    for role in ("cl", "mim"):
        column = f"final.{role}_test_accuracy"
        out[f"{role} teacher accuracy"] = 100 * runs[column] if column in runs else float("nan")
    return out


def table2_from(students: pd.DataFrame, paper: pd.DataFrame) -> pd.DataFrame:
    """The paper's Table 2 beside the study's: per row the student's accuracy (%), mean, sd and
    number of seeds."""
    ref = paper.assign(key=paper["teachers"].fillna(paper["method"])).set_index("key")["top1"]
    rows = []
    for arm in TABLE2:
        acc = students[students["arm"] == arm]["accuracy"]
        rows.append({"student": arm, "accuracy": acc.mean(), "sd": acc.std(), "seeds": len(acc),
                     "paper": ref.get(PAPER_ARM[arm])})
    return pd.DataFrame(rows)


def table2(profile: str) -> pd.DataFrame:
    return table2_from(student_table(profile), reference("kd_table2_imagenet"))


def ablation_from(students: pd.DataFrame) -> pd.DataFrame:
    """Each ablation beside the paper's method: accuracy (%) mean, sd, seeds, and the difference
    to the method with its standard error (`claims.difference`)."""
    from mae_study.report.claims import difference
    base = students[students["arm"] == REFERENCE_ARM]
    rows = [{"setting": f"{REFERENCE_ARM} (the paper's method)", "accuracy": base["accuracy"].mean(),
             "sd": base["accuracy"].std(), "seeds": len(base), "difference": "", "teachers' accuracy": _teachers(base)}]
    for arm in ABLATIONS:
        here = students[students["arm"] == arm]
        if here.empty:
            continue
        d = difference(higher=here["accuracy"], lower=base["accuracy"])
        rows.append({"setting": arm, "accuracy": here["accuracy"].mean(), "sd": here["accuracy"].std(),
                     "seeds": len(here), "difference": d.format(1), "teachers' accuracy": _teachers(here)})
    return pd.DataFrame(rows)


def _teachers(rows: pd.DataFrame) -> str:
    return " / ".join(f"{rows[c].mean():.1f}" for c in ("cl teacher accuracy", "mim teacher accuracy"))


def ablation_table(profile: str) -> pd.DataFrame:
    return ablation_from(student_table(profile))


def cost_table(profile: str) -> pd.DataFrame:
    """What the runs cost: per experiment (and per student arm) the runs, their mean and summed
    wall time, read from the runs' provenance."""
    rows = []
    names = {**{e.name: f"{t} teacher" for t, e in EXPERIMENTS.items()}, KD_ATTENTION.name: "attention analysis",
             KD_ADAPT.name: "adaptation"}
    for experiment, label in names.items():
        runs = load_runs(experiment, check_profile(profile))
        if not runs.empty:
            rows.append({"runs of": label, "runs": len(runs), "mean (s)": runs["prov.wall_time_s"].mean(),
                         "total (min)": runs["prov.wall_time_s"].sum() / 60})
    students = student_table(profile)
    for arm in [*TABLE2, *ABLATIONS, "other"]:
        group = students[students["arm"] == arm] if not students.empty else students
        if len(group):
            rows.append({"runs of": f"student: {arm}", "runs": len(group), "mean (s)": group["wall_time_s"].mean(),
                         "total (min)": group["wall_time_s"].sum() / 60})
    return pd.DataFrame(rows)


def grid_summary(profile: str) -> dict:
    """The grid's seeds at ``profile``, for the page's prose."""
    g = GRIDS[check_profile(profile)]
    return {"teacher_seeds": len(g.teacher_seeds), "adapt_seeds": len(g.adapt_seeds),
            "table2_seeds": len(g.table2_seeds), "ablation_seeds": len(g.ablation_seeds),
            "teachers": list(TEACHERS)}


def rungs(profile: str) -> pd.DataFrame:
    """The student's task rungs (chance, pixel probe, the student alone as scratch) beside Table
    2's distilled students, one value per seed (`rungs.rungs_table`)."""
    from mae_study.runs.rungs import task_rungs
    students = student_table(check_profile(profile))
    acc = (lambda arm: (students.loc[students["arm"] == arm, "accuracy"] / 100).tolist()) if len(students) else (
        lambda arm: [])
    return task_rungs(KD_STUDENT.resolve(profile), acc("alone"), {f"KD from {arm}": acc(arm)
                                                                  for arm in TABLE2 if arm != "alone"})
