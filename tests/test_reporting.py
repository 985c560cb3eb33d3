"""Book helpers in `mae_study.report.tables`, `mae_study.chapters.mae.figures` and `mae_study.report.style` (no training)."""
import numpy as np
import pandas as pd
import pytest
import torch

from mae_study.chapters.mae import figures as mae_figures
from mae_study.masking import patchify
from mae_study.models import MaskedAutoencoder, mae_config
from mae_study.report import tables as reporting
from mae_study.runs.results import RunDir


def test_provenance_summary_counts_and_times_each_machine_and_commit_separately():
    df = pd.DataFrame({"run": list("abcd"), "profile": "cpu", "prov.device": ["cpu", "cpu", "cpu", "cuda"],
                       "prov.cpu": "EPYC", "prov.gpu": [None, None, None, "H100"],
                       "prov.git_commit": ["x", "y", "x", "x"], "prov.wall_time_s": [60.0, 120.0, 180.0, 600.0]})
    out = reporting.provenance_summary(df)
    assert out[["prov.device", "prov.git_commit", "runs", "total wall time (min)"]].values.tolist() == \
        [["cpu", "x", 2, 4.0], ["cpu", "y", 1, 2.0], ["cuda", "x", 1, 10.0]]
    assert out["runs"].sum() == len(df)


def test_mean_spread():
    df = pd.DataFrame({"g": ["a", "a", "b"], "v": [1.0, 3.0, 5.0]})
    out = reporting.mean_spread(df, ["g"], "v").set_index("g")
    assert out.loc["a", "mean"] == 2.0 and out.loc["a", "n"] == 2 and pd.isna(out.loc["b", "std"])


def test_norm_pix_view_is_the_models_own_target():
    cfg = mae_config("ci_16", norm_pix_loss=True)
    images = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    view = mae_figures._norm_pix_view(images, mae_config("ci_16"))
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    target = MaskedAutoencoder(cfg).target(x)
    expected = ((target.clamp(-2.5, 2.5) + 2.5) / 5 * 255).round().to(torch.uint8)
    shown = patchify(torch.from_numpy(view).permute(0, 3, 1, 2), cfg.patch_size)
    assert torch.equal(shown, expected)


def test_patch_size_must_divide_the_image():
    with pytest.raises(ValueError, match="patch_size 5 must divide the image size 16x16"):
        mae_figures.plot_patchify(np.zeros((16, 16, 3), np.uint8), 5)


def test_a_run_without_snapshots_is_a_clear_error(results_dir):
    run = RunDir("ci", "x", "no_snapshots")
    run.path.mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no reconstruction snapshots"):
        mae_figures.plot_target_reconstructions({"pixels": run})
    with pytest.raises(FileNotFoundError, match="no reconstruction snapshots"):
        mae_figures.snapshot_originals(run)


def test_pretrain_summary_columns():
    runs = pd.DataFrame([{"run": "r", "config.model.embed_dim": 96, "config.model.depth": 4,
                          "config.model.decoder_depth": 2, "config.data.num_images": 10,
                          "config.train.num_epochs": 1, "final.final_mask_ratio": 0.75, "final.final_loss": 0.5,
                          "final.wall_time_s": 3.0, "config.other": 1}])
    out = reporting.pretrain_summary(runs)
    assert list(out.columns) == ["run", "width", "encoder depth", "decoder depth", "images", "epochs",
                                 "mask ratio", "final loss (masked MSE)", "wall time (s)"]


def test_calibration_floor_note_is_empty_without_a_run(results_dir):
    from mae_study.chapters.ladder.calibration import floor_note
    assert floor_note("cpu") == ""
    with pytest.raises(ValueError, match="profile must be one of"):
        floor_note("laptop")


def test_importing_the_package_restyles_nothing_and_figures_restore_the_callers_style():
    import subprocess
    import sys
    code = ("import matplotlib as mpl; before = dict(mpl.rcParams); "
            "import mae_study.report.tables, mae_study.chapters.mae.figures, mae_study.chapters.ablations.tables, "
            "mae_study.chapters.dynmask.figures; "
            "changed = [k for k, v in mpl.rcParams.items() if before[k] != v]; print(changed)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_book_style_applies_inside_and_restores_after():
    import matplotlib as mpl
    import matplotlib.pyplot as plt
    from mae_study.report.style import book_style
    with mpl.rc_context({"axes.grid": False, "axes.facecolor": "yellow"}):
        with book_style():
            assert mpl.rcParams["axes.grid"] and mpl.rcParams["axes.facecolor"] == "white"
        assert not mpl.rcParams["axes.grid"] and mpl.rcParams["axes.facecolor"] == "yellow"
        fig = mae_figures.plot_masks(grid=4, ratios=(0.5,), samplings=("random",))  # drawn in the book's style
        assert mpl.rcParams["axes.facecolor"] == "yellow"
        plt.close(fig)


def test_book_style_leaves_settings_it_does_not_own():
    """A notebook's inline backend may switch ``interactive`` on while the first figure is drawn;
    restoring it afterwards (as `matplotlib.rc_context` would) hides every later figure."""
    import matplotlib as mpl
    from mae_study.report.style import book_style
    with mpl.rc_context({"interactive": False}):
        with book_style():
            mpl.rcParams["interactive"] = True
        assert mpl.rcParams["interactive"]


def test_results_header_is_the_line_every_page_shows():
    from mae_study.report.page import results_header
    assert results_header("ci").data == "*Results shown: profile `ci`.*"
    assert results_header("ci", {"pre-training runs": 2, "fine-tuning runs": 3}, others_of="no_such_experiment").data == (
        "*Results shown: profile `ci`, 2 pre-training runs and 3 fine-tuning runs. Other profiles with results: none.*")


def test_book_tables_drop_row_numbers_keep_a_named_index_and_scroll():
    import pandas as pd
    from mae_study.report.page import table_html
    plain = table_html(pd.DataFrame({"arm": ["a", "b"], "accuracy %": [51.0, 53.5]}))
    assert 'class="table-scroll"' in plain and "overflow-x: auto" in plain
    assert "<th>0</th>" not in plain and "<th>1</th>" not in plain  # no row numbers
    assert "<td>a</td>" in plain and "53.5" in plain
    filtered = table_html(pd.DataFrame({"arm": ["a", "b", "c"]}).iloc[[0, 2]])  # row numbers 0, 2 left by a filter
    assert "<th>2</th>" not in filtered and "<td>c</td>" in filtered
    named = table_html(pd.DataFrame({"accuracy %": [51.0]}, index=pd.Index(["static 75 %"], name="condition")))
    assert "static 75 %" in named and "condition" in named  # an index that says something stays


def test_values_are_rounded_to_two_significant_digits_of_the_smallest_spread():
    import numpy as np
    import pandas as pd
    from mae_study.report.tables import round_to_spread, spread_decimals
    assert spread_decimals(0.00137) == 4 and spread_decimals(0.0137) == 3 and spread_decimals(2.5) == 1
    assert spread_decimals(37.0) == 0 and spread_decimals(0.0) is None and spread_decimals(np.nan) is None
    df = pd.DataFrame({"m": [0.391253, 0.608964], "sd": [0.00137, 0.0213], "n": [3, 3]})
    out = round_to_spread(df, {"m": "sd"})
    assert out["m"].tolist() == [0.3913, 0.609] and out["sd"].tolist() == [0.0014, 0.0213]
    assert out["n"].tolist() == [3, 3]  # other columns untouched
    assert round_to_spread(df, {"m": "sd", "absent": "absent_sd"}).equals(out)  # a missing pair is skipped
    single = round_to_spread(pd.DataFrame({"m": [0.123456], "sd": [np.nan]}), {"m": "sd"}, default=2)
    assert single["m"].tolist() == [0.12]
    alone = round_to_spread(df.assign(se=[0.000791, 0.0123]), {"m": "sd", "se": "se"})  # a spread on its own
    assert alone["se"].tolist() == [0.00079, 0.0123] and alone["m"].equals(out["m"])
