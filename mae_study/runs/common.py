"""What every experiment needs: devices, seeds, the data a run reads (`DataSpec`), the pre-training
data split, ratio tags in run names."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from mae_study.data import ImageTensorDataset, load_dataset
from mae_study.data.builtin import BUILTIN_SETTINGS, DEFAULT_SETTING

PRETRAIN_SPLIT = {"builtin": "unlabelled", "stl10": "unlabelled"}  # other sets pre-train on "train"


def resolve_device(device: str) -> str:
    """"auto" -> "cuda" when available, else "cpu"; a clear error for an unavailable device."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but no CUDA GPU is available; use 'cpu' or 'auto'")
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}")
    return device


def seeds_for(seed: int) -> dict[str, int]:
    """Separate seeds for initialisation, data order, augmentation and masks, from one run seed."""
    return {"init_seed": seed, "data_seed": 1000 + seed, "aug_seed": 2000 + seed, "mask_seed": 3000 + seed}


def ratio_tag(ratio: float) -> str:
    return f"r{round(ratio * 100):02d}"


def check_data_setting(p) -> None:
    """``data_setting``: None (the built-in data's default) or a name of `BUILTIN_SETTINGS`, and
    only for the built-in data set."""
    setting = p.get("data_setting")
    if setting is None:
        return
    if setting not in BUILTIN_SETTINGS:
        raise ValueError(f"data_setting must be None or one of {sorted(BUILTIN_SETTINGS)}, got {setting!r}")
    if p["dataset"] != "builtin":
        raise ValueError(f"data_setting={setting!r} is for dataset='builtin', not {p['dataset']!r}")


@dataclass(frozen=True)
class DataSpec:
    """The data a run reads, resolved once from its parameters.

    Args:
        dataset: a name of `mae_study.data.DATASETS`.
        setting: the built-in data's setting, explicit: a run's ``data_setting``, or
            `DEFAULT_SETTING` (``siblings-v1``) for a built-in run that names none (the runs made
            before settings had names); None for every other data set.
        image_size: side of the images.
        seed: the data seed (generation, splits, the ``num_samples`` pick).
    """

    dataset: str
    setting: str | None
    image_size: int
    seed: int

    def load(self, split: str, num_samples: int | None = None) -> ImageTensorDataset:
        """One split, ``num_samples`` images of it (None: all)."""
        extra = {"setting": self.setting} if self.setting is not None else {}
        return load_dataset(self.dataset, split, image_size=self.image_size, seed=self.seed,
                            num_samples=num_samples, **extra)


def data_spec(p: Mapping) -> DataSpec:
    """The `DataSpec` of parameters with ``dataset``, ``data_setting``, ``image_size`` and
    ``data_seed``; the setting checked (`check_data_setting`) and made explicit."""
    check_data_setting(p)
    setting = p.get("data_setting")
    if p["dataset"] == "builtin" and setting is None:
        setting = DEFAULT_SETTING
    return DataSpec(p["dataset"], setting, p["image_size"], p["data_seed"])


def check_lengths(p) -> None:
    """A labelled run's lengths: epochs, batch size and averaged final epochs, before any compute."""
    for key in ("num_epochs", "batch_size", "average_last"):
        if p[key] < 1:
            raise ValueError(f"{key} must be >= 1, got {p[key]}")
    if p["average_last"] > p["num_epochs"]:
        raise ValueError(f"average_last ({p['average_last']}) cannot exceed num_epochs ({p['num_epochs']})")


def averaged_accuracy(test, p, device: str, progress: bool = False):
    """An ``eval_fn`` for `fit` that evaluates ``test`` only in the last ``p["average_last"]``
    epochs, the ones whose accuracy is averaged (it saves most of the test passes)."""
    from mae_study.train.evaluation import evaluate

    def eval_fn(model, epoch):
        if epoch < p["num_epochs"] - p["average_last"]:
            return {}
        r = evaluate(model, test, batch_size=256, device=device, progress=progress)
        return {"test_accuracy": r["accuracy"], "test_loss": r["loss"]}
    return eval_fn


def accuracy_summary(history: list[dict], k: int) -> dict:
    """The final.json entries of a labelled run: test accuracy averaged over its last ``k``
    evaluated epochs (as the dynamic-masking paper reports), the last one, the last train loss."""
    accs = [h["test_accuracy"] for h in history if "test_accuracy" in h]
    return {"test_accuracy_last_k": float(sum(accs[-k:]) / len(accs[-k:])), "average_last": k,
            "test_accuracy_final": accs[-1], "train_loss_final": history[-1]["train_loss"]}


def data_record(train, test) -> dict:
    """What a labelled run's config.json records about its data."""
    return {"name": train.name, "num_train": len(train), "num_test": len(test),
            "num_classes": train.num_classes, "info": train.info}
