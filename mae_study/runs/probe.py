"""A pixel probe as a run: logistic regression on standardised raw pixels of a labelled task's
splits, and chance. The data chapter's ladder and every chapter's task rungs (`rungs`) use it.
"""
from __future__ import annotations

import time
from collections.abc import Mapping

import torch

from mae_study.data.builtin import linear_probe_accuracy
from mae_study.runs.common import check_data_setting, data_spec
from mae_study.runs.results import RunDir, provenance
from mae_study.runs.skeleton import execute_run


def check_probe(p) -> None:
    """A probe's data setting and sizes (split sizes None: the data set's own)."""
    check_data_setting(p)
    for key in ("num_train", "num_test", "image_size"):  # split sizes None: the data set's own
        if (p[key] is not None or key == "image_size") and p[key] < 1:
            raise ValueError(f"{key} must be >= 1, got {p[key]}")


def run_pixel_probe(p: Mapping, experiment: str | None = None, run_name: str | None = None,
                    progress: bool = True) -> RunDir:
    """Logistic regression on standardised raw pixels (`linear_probe_accuracy`), and chance."""
    check_probe(p)

    def body(run: RunDir) -> None:
        t0 = time.perf_counter()
        data = data_spec(p)
        train, test = data.load("train", p["num_train"]), data.load("test", p["num_test"])
        counts = torch.bincount(test.labels, minlength=test.num_classes)
        run.write_config({"params": p, "data": {"name": train.name, "num_train": len(train), "num_test": len(test),
                                                "num_classes": train.num_classes, "info": train.info}})
        final = {"accuracy": linear_probe_accuracy(train, test), "chance": 1.0 / train.num_classes,
                 "majority_class": float(counts.max() / counts.sum())}
        run.finish(final, provenance(p["profile"], {"data_seed": p["data_seed"]}, "cpu", time.perf_counter() - t0))
    return execute_run(p, body, experiment, run_name)
