"""The base recipe: the one MAE pre-training, fine-tuning and linear probe every chapter builds on.

At `cpu` it is the recipe the data chapter chose its built-in setting with, and whose ladder climbs
(chance < pixel probe < ViT from scratch < MAE fine-tuned):

- pre-training: `distinct-v2`, a pool of 40,000 unlabelled images, 3 epochs (120,000 image-steps),
  batch 64, AdamW lr 1.5e-3 with a 1-epoch warm-up and cosine decay, mask ratio 75 %;
- fine-tuning: 2,000 labelled images (2,000 test), 30 epochs, batch 50, AdamW lr 1e-3, accuracy
  averaged over the last 3 epochs; far fewer epochs leave the ViT from scratch below the pixel probe;
- linear probe: the frozen encoder's mean-pooled features through BatchNorm and a linear head, lr 0.1,
  the same 30 epochs.

Seed ``s`` draws everything afresh (``data_seed = s``: the pool, the labelled splits, the
initialisation, the data order).

The base runs live under the data chapter's experiments (``ladder_pretrain``, ``ladder_finetune``,
``ladder_pixel_probe``). A chapter whose arm has exactly the base's parameters does not train it
again: `shared_pretrain` finds the base run with the same parameters, the chapter's plan lists that
run, and its page says that it is the same run.
"""
from __future__ import annotations

from collections.abc import Mapping

from mae_study.runs.finetune import check_finetune, finetune_defaults
from mae_study.runs.params import Experiment
from mae_study.runs.pretrain import check_pretrain, pretrain_defaults
from mae_study.runs.probe import check_probe

PRETRAIN, FINETUNE, PROBE = "ladder_pretrain", "ladder_finetune", "ladder_pixel_probe"
SETTING = "distinct-v2"  # the built-in setting every chapter's `cpu` runs use (`mae_study.data.builtin`)
MODES = ("full", "linear")  # fine-tuning, and the linear probe of the frozen encoder

# The base recipe at `cpu`, as changes to the pre-training and fine-tuning runners' defaults.
CPU_PRETRAIN = {"data_setting": SETTING, "num_images": 40_000, "num_epochs": 3, "batch_size": 64, "lr": 1.5e-3,
                "warmup_epochs": 1.0, "lr_schedule": "cosine", "weight_decay": 0.05, "recon_epochs": []}
CPU_FINETUNE = {"num_train": 2000, "num_test": 2000, "num_epochs": 30, "average_last": 3, "batch_size": 50,
                "lr": 1e-3, "warmup_epochs": 1.0, "lr_schedule": "cosine", "weight_decay": 0.05}
LINEAR_PROBE = {"lr": 0.1, "pool": "mean"}  # a frozen encoder's linear head takes a far larger lr

# The data chapter's other profiles: ci exercises the code paths, gpu the paper's model at 96 px.
_PRE = {"ci": {"model": "ci_16", "image_size": 16, "num_images": 400, "num_epochs": 1, "batch_size": 32,
               "recon_epochs": []},
        "cpu": CPU_PRETRAIN,
        "gpu": {"model": "dynmask_stl10", "image_size": 96, "num_images": 40_000, "num_epochs": 30, "batch_size": 50,
                "device": "auto", "recon_epochs": []}}
_FT = {"ci": {"image_size": 16, "scratch_model": "ci_16", "num_train": 100, "num_test": 100, "num_epochs": 2,
              "average_last": 1, "batch_size": 25},
       "cpu": CPU_FINETUNE,
       "gpu": {"image_size": 96, "scratch_model": "dynmask_stl10", "num_train": 2000, "num_test": 2000,
               "num_epochs": 50, "average_last": 5, "device": "auto"}}


def _pretrain_naming(p: Mapping) -> tuple[str, tuple[str, ...]]:
    return f"{p['data_setting']}_d{p['data_seed']}_s{p['seed']}", ("data_setting", "data_seed", "seed")


def _finetune_naming(p: Mapping) -> tuple[str, tuple[str, ...]]:
    return (f"{p['dataset']}__{p['pretrained']}__{p['mode']}_d{p['data_seed']}_ft{p['seed']}",
            ("dataset", "pretrained", "mode", "data_seed", "seed", "data_setting", "num_train", "num_test"))


def linear_probe_defaults(p: dict, given: frozenset) -> dict:
    """A linear probe's own defaults (`LINEAR_PROBE`) for the parameters the caller did not set."""
    if p["mode"] == "linear":
        p = {**p, **{k: v for k, v in LINEAR_PROBE.items() if k not in given}}
    return p


def _probe_naming(p: Mapping) -> tuple[str, tuple[str, ...]]:
    return f"{p['dataset']}_d{p['data_seed']}", ("dataset", "data_seed", "data_setting", "num_train", "num_test")


# The built-in setting is the pre-training's default; fine-tunings and probes name it per task
# (digits has none: a papermill-style None means "the default", so the default must be None there).
BASE_PRETRAIN = Experiment(PRETRAIN, {k: v for k, v in pretrain_defaults(
    **{prof: {**c, "data_setting": SETTING} for prof, c in _PRE.items()}).items() if k in _PRE},
    check_pretrain, naming=_pretrain_naming)
BASE_FINETUNE = Experiment(FINETUNE, {k: v for k, v in finetune_defaults(
    **{prof: {**c, "pretrain_experiment": PRETRAIN} for prof, c in _FT.items()}).items()
    if k in _FT}, check_finetune, derive=linear_probe_defaults, naming=_finetune_naming)
BASE_PROBE = Experiment(PROBE, {prof: {"dataset": "builtin", "data_setting": None, "image_size": c["image_size"],
                                       "num_train": c["num_train"], "num_test": c["num_test"], "data_seed": 0}
                                for prof, c in ((q, BASE_FINETUNE.defaults[q]) for q in _FT)},
                        check_probe, naming=_probe_naming)


def base_pretrain(profile: str, seed: int):
    """The base pre-training of seed ``seed`` (``data_seed = seed``)."""
    return BASE_PRETRAIN.resolve(profile, seed=seed, data_seed=seed)


def base_finetune(profile: str, pretrained: str, mode: str, seed: int):
    """The base recipe's evaluation on the built-in task of seed ``seed``: ``pretrained`` (a base
    pre-training's run name, or "scratch") fine-tuned (``mode="full"``) or linearly probed."""
    return BASE_FINETUNE.resolve(profile, pretrained=pretrained, mode=mode, seed=seed, data_setting=SETTING,
                                 data_seed=seed)


_RUNNER_KEYS = ("profile", "pretrain_experiment", "pretrained")  # what may differ between two equal recipes


def same_recipe(p: Mapping, q: Mapping, ignore: tuple[str, ...] = ()) -> bool:
    """Whether two resolved runs have the same parameters, apart from ``ignore``."""
    keys = (set(p) | set(q)) - set(ignore)
    return all(p.get(k) == q.get(k) for k in keys)


def shared_pretrain(p: Mapping, derive=None) -> tuple[str, str] | None:
    """(experiment, run name) of the base pre-training that has exactly the parameters of ``p`` (a
    chapter's resolved pre-training), or None when ``p`` differs from every base run in something.
    ``derive``: the chapter's own filling-in of defaults (e.g. the decoder's resolved width), applied
    to the base's parameters before comparing."""
    from mae_study.runs.skeleton import auto_run_name
    if p["profile"] not in BASE_PRETRAIN.defaults:
        return None
    base = base_pretrain(p["profile"], p["seed"])
    compared = derive(dict(base)) if derive else base
    return (PRETRAIN, auto_run_name(base)) if same_recipe(p, compared, ("profile",)) else None


def shared_finetune(p: Mapping, base_pretrained: str | None) -> tuple[str, str] | None:
    """(experiment, run name) of the base evaluation equal to ``p`` (a chapter's resolved
    fine-tuning or probe of ``base_pretrained``, the base run its encoder is, or of "scratch"),
    or None when ``p`` differs from it in anything but where the encoder is stored."""
    from mae_study.runs.skeleton import auto_run_name
    if p["profile"] not in BASE_FINETUNE.defaults:
        return None
    source = "scratch" if p["pretrained"] == "scratch" else base_pretrained
    if source is None or (source == "scratch" and p["mode"] != "full"):  # the base has no random-feature probe
        return None
    base = base_finetune(p["profile"], source, p["mode"], p["seed"])
    return (FINETUNE, auto_run_name(base)) if same_recipe(p, base, _RUNNER_KEYS) else None


def load_with_base(experiment: str, profile: str, entries, base_experiment: str) -> "pd.DataFrame":
    """`load_runs` of a chapter's ``experiment``, plus the finished runs of ``base_experiment``
    (`PRETRAIN` or `FINETUNE`) that its plan ``entries`` ((experiment, run name, ...) tuples) list in
    their place; column ``base``: True for those."""
    import pandas as pd

    from mae_study.runs.results import load_named_runs, load_runs
    own = load_runs(experiment, profile)
    if base_experiment not in (PRETRAIN, FINETUNE):
        raise ValueError(f"base_experiment must be {PRETRAIN!r} or {FINETUNE!r}, got {base_experiment!r}")
    shared = load_named_runs([(e[0], e[1]) for e in entries if e[0] == base_experiment], profile)
    frames = [f for f in (own.assign(base=False), shared.assign(base=True)) if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else own
