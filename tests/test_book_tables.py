"""The tables the book's pages show at profile ``cpu``, read from the committed ``cpu`` results.

Two kinds of check:

- Against ``tests/fixtures/book_tables_cpu/``: every table and value the pages ``data``, ``mae``,
  ``mae_ablations`` and ``dynmask`` display, as the code showed them when the fixture was last
  written (first at commit c9f53d1, before the analysis modules were split; rewritten when the
  chapters were rerun on the recalibrated setting). A change of the analysis code must leave every
  number as it was; `CHANGED_ON_PURPOSE` lists deliberate changes made since the fixture was
  written and applies them to the old table before comparing. The fixture belongs to the results
  it was made from: when a sweep rewrites the ``cpu`` results, the affected tables fail (their
  experiments' fingerprints in ``manifest.json`` differ) until the fixture is rewritten with
  ``python tests/test_book_tables.py write tests/fixtures/book_tables_cpu`` (then empty
  `CHANGED_ON_PURPOSE`).
- Independently of any fixture: a few entries recomputed from `load_runs` by hand.

Also a helper for humans: ``python tests/test_book_tables.py pages DIR`` executes the code cells of
the four pages outside Jupyter and saves what each displays (DataFrames as CSV, Markdown as text).
"""
from __future__ import annotations

import ast
import hashlib
import json
import math
import os
import re
import sys
from pathlib import Path

import pandas as pd
import pytest

from mae_study.chapters.ablations import (claims as ablation_claims, results as ablation_results,
                                          setting as ablation_setting, tables as ablation_tables, plan as ablations,
                                          step_cost_report)
from mae_study.chapters.dynmask import (plan as dynmask, claims as dynmask_claims, setting as dynmask_setting,
                                        tables as dynmask_tables)
from mae_study.chapters.ladder import calibration_report
from mae_study.chapters.mae.figures import token_counts
from mae_study.chapters.mae import plan as mae_plan
from mae_study.chapters.mae.plan import MAE_PRETRAIN
from mae_study.paths import REPO_ROOT
from mae_study.report import page as book, tables as reporting
from mae_study.runs import base
from mae_study.runs.results import find_runs, load_runs

P = "cpu"
FIXTURE = Path(__file__).parent / "fixtures" / "book_tables_cpu"


def _mae_token_counts() -> pd.DataFrame:
    model = find_runs(MAE_PRETRAIN.name, P)[0].read("config.json")["model"]
    return token_counts((model["img_size"] // model["patch_size"]) ** 2, ratios=(0.1, 0.5, 0.75, 0.9))


# key -> (the experiments it reads, the call that makes it now)
TABLES = {
    "data/calibration": (["data_calibration"], lambda: calibration_report.calibration_table(P)),
    "dynmask/rungs": ([dynmask.FINETUNE, "task_pixel_probe"], lambda: dynmask_tables.rungs(P)),
    "ablations/rungs": ([ablations.FINETUNE, "task_pixel_probe"], lambda: ablation_tables.rungs(P)),
    "mae/pretrain_summary": ([MAE_PRETRAIN.name], lambda: reporting.pretrain_summary(mae_plan.default_runs(P))),
    "mae/token_counts": ([MAE_PRETRAIN.name], _mae_token_counts),
    "mae/provenance": ([MAE_PRETRAIN.name], lambda: reporting.provenance_summary(mae_plan.default_runs(P))),
    "dynmask/table1": ([dynmask.PRETRAIN], lambda: dynmask_tables.table1(P)),
    "dynmask/table2": ([dynmask.PRETRAIN, dynmask.FINETUNE], lambda: dynmask_tables.table2(P)),
    "dynmask/table3": ([], lambda: dynmask_tables.table3(100)),
    "dynmask/table4": ([dynmask.PRETRAIN, dynmask.FINETUNE], lambda: dynmask_tables.table4(P)),
    "dynmask/summary": ([dynmask.PRETRAIN, dynmask.FINETUNE], lambda: dynmask_tables.summary(P)),
    "dynmask/claims": ([dynmask.PRETRAIN, dynmask.FINETUNE], lambda: dynmask_claims.claims(P)),
    "dynmask/cost_table": ([dynmask.PRETRAIN, dynmask.FINETUNE], lambda: dynmask_tables.cost_table(P)),
    "dynmask/pretrain_time_estimate": ([], lambda: dynmask_setting.pretrain_time_estimate("paper")),
    "dynmask/provenance": ([dynmask.PRETRAIN], lambda: reporting.provenance_summary(
        base.load_with_base(dynmask.PRETRAIN, P, dynmask.pretrain_entries(P), base.PRETRAIN))),
    **{f"ablations/table_{t}": ([ablations.PRETRAIN, ablations.FINETUNE], (lambda t=t: ablation_tables.table(P, t)))
       for t in ablations.TABLES},
    "ablations/summary": ([ablations.PRETRAIN, ablations.FINETUNE], lambda: ablation_tables.summary(P)),
    "ablations/step_cost_table": ([ablations.STEP_COST], lambda: step_cost_report.step_cost_table(P)),
    "ablations/claims": ([ablations.PRETRAIN, ablations.FINETUNE, ablations.STEP_COST],
                         lambda: ablation_claims.claims(P)),
    "ablations/scale_gap": ([ablations.PRETRAIN, ablations.FINETUNE], lambda: ablation_setting.scale_gap(P)),
    "ablations/provenance": ([ablations.PRETRAIN, ablations.FINETUNE], lambda: reporting.provenance_summary(
        pd.concat([base.load_with_base(ablations.PRETRAIN, P, ablations.plan(P), base.PRETRAIN),
                   base.load_with_base(ablations.FINETUNE, P, ablations.plan(P), base.FINETUNE)]))),
}
VALUES = {
    "dynmask/lr_schedules": ([], dynmask_setting.lr_schedules),
    "ablations/setting": ([ablations.PRETRAIN, ablations.FINETUNE], lambda: ablation_setting.setting(P)),
    "ablations/width_note": ([ablations.PRETRAIN], lambda: ablation_results.width_note(P) or ""),
}

CHANGED_ON_PURPOSE: dict = {}  # key -> (why, old table -> the table the new code shows); none since the rewrite


def _roundtrip(df: pd.DataFrame) -> pd.DataFrame:
    """A table as its CSV file reads back (what the fixture holds)."""
    from io import StringIO
    return pd.read_csv(StringIO(df.to_csv()), index_col=0)


def fingerprint(experiment: str) -> str:
    """A digest of the finished runs of one experiment: run names and their final.json."""
    digest = hashlib.sha1()
    for run in find_runs(experiment, P):
        digest.update(run.name.encode())
        digest.update(run.file("final.json").read_bytes())
    return digest.hexdigest()[:12]


def _fail_if_results_changed(experiments: list[str]) -> None:
    made_from = json.loads((FIXTURE / "manifest.json").read_text())["fingerprints"]
    changed = [e for e in experiments if made_from.get(e) != fingerprint(e)]
    if changed:
        pytest.fail(f"the committed {P} results of {changed} changed since the fixture was written; rewrite it "
                    f"with `python tests/test_book_tables.py write {FIXTURE.relative_to(REPO_ROOT)}`")


def compare_table(key: str, new: pd.DataFrame, old: pd.DataFrame) -> None:
    """``new`` as its CSV reads back must equal ``old`` (a read-back CSV) after the deliberate
    changes of `CHANGED_ON_PURPOSE`; floats to 1e-12 relative."""
    if key in CHANGED_ON_PURPOSE:
        old = CHANGED_ON_PURPOSE[key][1](old)
    pd.testing.assert_frame_equal(_roundtrip(new), old, check_exact=False, rtol=1e-12, atol=0, check_dtype=False,
                                  obj=key)


def compare_value(key: str, new, old) -> None:
    new = json.loads(json.dumps(new, default=str))
    if isinstance(old, dict):  # a value may gain keys; every old one must be unchanged
        new = {k: new.get(k) for k in old}
    assert new == old, key


@pytest.mark.parametrize("key", list(TABLES))
def test_table_is_what_the_pre_refactor_code_showed(key):
    experiments, make = TABLES[key]
    _fail_if_results_changed(experiments)
    compare_table(key, make(), pd.read_csv(FIXTURE / f"{key}.csv", index_col=0))


@pytest.mark.parametrize("key", list(VALUES))
def test_value_is_what_the_pre_refactor_code_showed(key):
    experiments, make = VALUES[key]
    _fail_if_results_changed(experiments)
    compare_value(key, make(), json.loads((FIXTURE / f"{key}.json").read_text()))


# --- recomputed by hand from the run files ------------------------------------------------------

def _pretrain_config(experiment: str) -> pd.DataFrame:
    return load_runs(experiment, P).set_index("run")


def _dynmask_pretrainings() -> pd.DataFrame:
    """The chapter's pre-trainings, the base runs its static 75 % shares included."""
    return base.load_with_base(dynmask.PRETRAIN, P, dynmask.pretrain_entries(P), base.PRETRAIN)


def test_dynmask_table4_is_the_mean_final_loss_of_each_method_and_ratio():
    runs = _dynmask_pretrainings()
    table = dynmask_tables.table4(P).set_index("final ratio [%]")
    for (method, ratio), group in runs.groupby(["config.params.method", "config.params.final_mask_ratio"]):
        row = table.loc[round(ratio * 100)]
        assert row[method] == pytest.approx(group["final.final_loss"].mean(), rel=1e-12)
        assert row[f"{method} sd"] == pytest.approx(group["final.final_loss"].std(ddof=1), rel=1e-12, nan_ok=True)
        both = runs[runs["config.params.final_mask_ratio"] == ratio].groupby("config.params.method").size()
        assert row["trials"] == both.reindex(["static", "dynamic"], fill_value=0).min()  # trials both methods have


def test_dynmask_loss_claim_evidence_is_dynamic_minus_static_with_its_standard_error():
    runs = _dynmask_pretrainings()
    evidence = dynmask_claims.claims(P)["evidence"].iloc[0]
    checked = 0
    for ratio in sorted(runs["config.params.final_mask_ratio"].unique()):
        at = runs[runs["config.params.final_mask_ratio"] == ratio]
        static = at.loc[at["config.params.method"] == "static", "final.final_loss"].to_numpy()
        dynamic = at.loc[at["config.params.method"] == "dynamic", "final.final_loss"].to_numpy()
        if min(len(static), len(dynamic)) < 2:
            continue  # no standard error yet (the sweep is in progress)
        checked += 1
        se = math.sqrt(static.var(ddof=1) / len(static) + dynamic.var(ddof=1) / len(dynamic))
        assert f"{round(ratio * 100)} %: {dynamic.mean() - static.mean():+.4f} ± {se:.4f}" in evidence
    assert checked >= 1


def _ablations_in_progress() -> bool:
    """Whether the committed ablation sweep at cpu is unfinished: only then may an arm be missing."""
    from mae_study import sweep
    done, total = sweep.progress("mae_ablations", P)
    return done < total


def test_ablation_accuracy_is_the_mean_over_seeds_of_the_mean_over_evaluations_in_percent():
    if load_runs(ablations.PRETRAIN, P).empty or load_runs(ablations.FINETUNE, P).empty:
        assert _ablations_in_progress(), "the ablation sweep is complete but has no runs"
        pytest.skip("the ablation sweep has no runs of its own yet at cpu (in progress, data/results/cpu/_sweeps)")
    pre = _pretrain_config(ablations.PRETRAIN)
    evals = load_runs(ablations.FINETUNE, P)
    evals = evals[evals["config.params.pretrained"] != "scratch"]
    evals = evals.assign(depth=evals["config.params.pretrained"].map(pre["config.model.decoder_depth"]),
                         baseline_rest=evals["config.params.pretrained"].map(
                             (pre["config.params.final_mask_ratio"] == 0.75)
                             & (pre["config.params.sampling"] == "random") & ~pre["config.model.norm_pix_loss"] & ~pre["config.model.encoder_mask_token"]
                             & (pre["config.model.decoder_embed_dim"] == ablation_results.encoder_width(P))))
    table = ablation_tables.table(P, "decoder_depth").set_index("decoder depth")
    checked = 0
    for depth, mode, title in [(d, m, ablation_results.MODE_NAMES[m]) for d in (1, 8) for m in ("full", "linear")]:
        runs = evals[(evals["depth"] == depth) & evals["baseline_rest"] & (evals["config.params.mode"] == mode)]
        per_encoder = (100 * runs.groupby("config.params.pretrained")["final.test_accuracy_last_k"].mean())
        if per_encoder.empty:  # an arm the sweep in progress has not reached: shown as missing
            assert _ablations_in_progress(), f"decoder depth {depth} ({mode}) has no runs in a complete sweep"
            assert str(depth) not in table.index or math.isnan(table.loc[str(depth), title])
            continue
        assert table.loc[str(depth), title] == pytest.approx(per_encoder.mean(), rel=1e-12)
        assert table.loc[str(depth), "trials"] == len(per_encoder)
        checked += 1
    assert checked == 4 or _ablations_in_progress()


def test_ablation_target_claim_is_normalised_minus_plain():
    res = ablation_results.results(P)
    claims = ablation_claims.claims(P)
    if not (res["table"] == "target").any() or res[res["table"] == "target"]["value"].nunique() < 2:
        assert _ablations_in_progress(), "the target table's arms are missing from a complete sweep"
        pytest.skip("the target table's arms have not both run at cpu yet (sweep in progress)")
    for mode in ("full", "linear"):
        target = res[(res["table"] == "target") & (res["mode"] == mode)]
        norm = target.loc[target["value"] == True, "accuracy_pct"].to_numpy()  # noqa: E712
        plain = target.loc[target["value"] == False, "accuracy_pct"].to_numpy()  # noqa: E712
        se = math.sqrt(norm.var(ddof=1) / len(norm) + plain.var(ddof=1) / len(plain))
        row = claims[(claims["table"] == "target") & (claims["metric"] == ablation_results.MODE_NAMES[mode])]
        assert row["ours"].iloc[0] == f"normalised minus plain: {norm.mean() - plain.mean():+.1f} ± {se:.1f}"


def test_data_chapter_first_ladder_names_the_setting_its_runs_used():
    table = calibration_report.calibration_table(P).set_index("task")
    assert table.loc["builtin", "setting"] == "siblings-v1" and table.loc["digits", "setting"] == "-"


def test_an_empty_note_renders_nothing():
    assert book.markdown(None) is None and book.markdown("") is None
    assert book.markdown("text").data == "text"
    assert ablation_results.width_note(P) is None  # every cpu decoder width has a paper counterpart


# --- helpers for humans ---------------------------------------------------------------------------

_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```\s*$", re.S | re.M)


def page_outputs(page: Path) -> list:
    """Execute the code cells of a MyST page as Jupyter would and return what it displays: each
    cell's last expression unless it ends in ``;`` or is None, and every `display` call."""
    import IPython.display
    import matplotlib.pyplot as plt
    shown = []
    saved = IPython.display.display
    IPython.display.display = lambda *objs, **kw: shown.extend(o for o in objs if o is not None)
    namespace = {"__name__": "__page__"}
    try:
        for body in _CELL.findall(page.read_text()):
            source = "\n".join(line for line in body.splitlines() if not line.startswith(":"))
            tree = ast.parse(source)
            last = tree.body[-1] if tree.body and isinstance(tree.body[-1], ast.Expr) else None
            exec(compile(ast.Module(tree.body[:-1] if last else tree.body, type_ignores=[]), str(page), "exec"),
                 namespace)
            if last is not None:
                value = eval(compile(ast.Expression(last.value), str(page), "eval"), namespace)
                if value is not None and not source.rstrip().endswith(";"):
                    shown.append(value)
            plt.close("all")
    finally:
        IPython.display.display = saved
    return shown


def _write(out: Path) -> None:
    for key, (_, make) in TABLES.items():
        (out / key).parent.mkdir(parents=True, exist_ok=True)
        make().to_csv(out / f"{key}.csv")
    for key, (_, make) in VALUES.items():
        (out / key).parent.mkdir(parents=True, exist_ok=True)
        (out / f"{key}.json").write_text(json.dumps(make(), indent=1, default=str) + "\n")
    experiments = sorted({e for deps, _ in [*TABLES.values(), *VALUES.values()] for e in deps})
    (out / "manifest.json").write_text(json.dumps({"profile": P, "fingerprints": {e: fingerprint(e)
                                                                                  for e in experiments}}, indent=1))


def _compare(against: Path) -> list[str]:
    problems = []
    for key, (_, make) in TABLES.items():
        try:
            compare_table(key, make(), pd.read_csv(against / f"{key}.csv", index_col=0))
        except AssertionError as e:
            problems.append(f"{key}: {e}")
    for key, (_, make) in VALUES.items():
        try:
            compare_value(key, make(), json.loads((against / f"{key}.json").read_text()))
        except AssertionError as e:
            problems.append(f"{key}: {e}")
    return problems


def _pages(out: Path) -> None:
    from IPython.display import Markdown
    os.environ.setdefault("MAE_STUDY_BOOK_PROFILE", P)
    for name in ("data", "mae", "mae_ablations", "dynmask"):
        (out / name).mkdir(parents=True, exist_ok=True)
        for k, obj in enumerate(page_outputs(REPO_ROOT / "book" / f"{name}.md")):
            if isinstance(obj, pd.DataFrame):
                obj.to_csv(out / name / f"{k:02d}.csv")
            elif isinstance(obj, Markdown):
                (out / name / f"{k:02d}.md").write_text(obj.data or "")
            else:
                (out / name / f"{k:02d}.txt").write_text(repr(obj))


if __name__ == "__main__":
    import matplotlib
    matplotlib.use("Agg")
    command, folder = sys.argv[1], Path(sys.argv[2])
    if command == "write":
        _write(folder)
    elif command == "compare":
        found = _compare(folder)
        print("\n\n".join(found) if found else f"every table and value equals {folder}'s")
    elif command == "pages":
        _pages(folder)
    else:
        raise SystemExit("usage: python tests/test_book_tables.py write|compare|pages DIR")
