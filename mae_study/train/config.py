"""`TrainConfig`: everything `fit` needs to know about a training run except the model, the loss
and the data. A frozen dataclass, recorded with every run (``dataclasses.asdict``) and checked
when a run resumes; every field is validated here, before any compute."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from mae_study.train.augment import Augment, Flip, Mixup
from mae_study.train.optim import LR_SCHEDULES, OPTIMIZERS

AMP_DTYPES = {None: None, "bfloat16": torch.bfloat16}
COMPILE_MODES = (None, "default", "reduce-overhead", "max-autotune")


@dataclass(frozen=True)
class TrainConfig:
    num_epochs: int                        # passes over the training set
    batch_size: int                        # images per optimisation step (all processes together)
    lr: float = 1e-3                       # peak learning rate (absolute, not scaled by batch)
    min_lr: float = 0.0                    # floor of the cosine decay
    warmup_epochs: float = 0.0             # linear warm-up from 0 to lr
    lr_schedule: str = "cosine"            # "cosine", "constant", "step" or "onecycle" (see `optim`)
    weight_decay: float = 0.05             # AdamW decoupled weight decay (SGD: L2 penalty)
    weight_decay_end: float | None = None  # None: constant; else a cosine from weight_decay to this over
                                           # training, per step (DINO: 0.04 -> 0.4)
    betas: tuple[float, float] = (0.9, 0.95)  # MAE's AdamW betas; torch's default is (0.9, 0.999)
    decay_norm_and_bias: bool = False      # True: decay every parameter; False: timm's grouping (no
                                           # decay on 1-D parameters, biases, cls/mask tokens)
    clip_grad: float | None = None         # max gradient norm, or None
    hflip: bool = True                     # random horizontal flip: the augmentation when augment is None
    data_seed: int = 0                     # data order
    aug_seed: int = 0                      # augmentation draws
    mask_seed: int = 0                     # masks (passed to the loss through ctx.generator)
    eval_every: int = 1                    # epochs between evaluations (the last is always evaluated)
    device: str = "cpu"                    # "cpu" or "cuda"
    amp_dtype: str | None = None           # None: fp32; "bfloat16": autocast, opt-in: not the same
                                           # arithmetic, and slow on CPUs without native bf16
    compile: str | None = None             # torch.compile mode: None (eager), "default", "reduce-overhead"
                                           # (CUDA graphs), "max-autotune"; compiles once per shape
    optimizer: str = "adamw"               # "adamw" or "sgd"
    momentum: float = 0.9                  # SGD momentum
    nesterov: bool = False                 # SGD: Nesterov momentum
    lr_milestones: tuple[float, ...] = ()  # "step": epochs at which the lr is multiplied by lr_gamma
    lr_gamma: float = 0.1                  # "step": the factor
    onecycle_pct_start: float = 0.3        # "onecycle": fraction of training spent rising (torch's pct_start)
    onecycle_div_factor: float = 25.0      # "onecycle": starts at lr / div_factor
    onecycle_final_div_factor: float = 1e4  # "onecycle": ends at lr / (div_factor * final_div_factor)
    lr_scale: tuple[tuple[str, float], ...] = ()  # (parameter-name prefix, lr multiplier), first match
                                           # wins; extra modules' names start "<name>.", e.g. (("head.", 10.0),)
    augment: Augment | None = None         # an `augment.Augment` (Flip, RandomResizedCrop, MultiCrop); None:
                                           # Flip() when hflip, else the images as they are
    mixup: Mixup | None = None             # Mixup / CutMix of the batch and its targets (DeiT), or None

    def __post_init__(self):
        if not isinstance(self.num_epochs, int) or self.num_epochs < 1:
            raise ValueError(f"num_epochs must be a positive integer, got {self.num_epochs!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        if not 0 <= self.min_lr <= self.lr:
            raise ValueError(f"min_lr must be in [0, lr={self.lr}], got {self.min_lr!r}")
        if not self.warmup_epochs >= 0:
            raise ValueError(f"warmup_epochs must be >= 0, got {self.warmup_epochs!r}")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if self.weight_decay_end is not None and not self.weight_decay_end >= 0:
            raise ValueError(f"weight_decay_end must be >= 0 or None, got {self.weight_decay_end!r}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        if self.clip_grad is not None and not self.clip_grad > 0:
            raise ValueError(f"clip_grad must be None (no clipping) or > 0, got {self.clip_grad!r}")
        if not isinstance(self.eval_every, int) or self.eval_every < 1:
            raise ValueError(f"eval_every must be a positive integer, got {self.eval_every!r}")
        if self.amp_dtype not in AMP_DTYPES:
            raise ValueError(f"amp_dtype must be one of {list(AMP_DTYPES)}, got {self.amp_dtype!r}")
        if self.compile not in COMPILE_MODES:
            raise ValueError(f"compile must be one of {list(COMPILE_MODES)}, got {self.compile!r}")
        self._check_optimizer()
        self._check_schedule()
        self._check_augment()

    def _check_optimizer(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}, got {self.optimizer!r}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        if self.nesterov and (self.optimizer != "sgd" or self.momentum == 0):
            raise ValueError("nesterov=True needs optimizer='sgd' and momentum > 0")
        for entry in self.lr_scale:
            if len(entry) != 2 or not isinstance(entry[0], str) or not entry[1] >= 0:
                raise ValueError(f"lr_scale must be (prefix, multiplier >= 0) pairs, got {self.lr_scale!r}")

    def _check_schedule(self) -> None:
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {list(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if self.lr_schedule == "step" and (not self.lr_milestones or list(self.lr_milestones) != sorted(
                self.lr_milestones) or self.lr_milestones[0] <= 0):
            raise ValueError(f"lr_schedule='step' needs lr_milestones: increasing epochs > 0, "
                             f"got {self.lr_milestones!r}")
        if not 0 < self.lr_gamma <= 1:
            raise ValueError(f"lr_gamma must be in (0, 1], got {self.lr_gamma!r}")
        if self.lr_schedule == "onecycle":
            if self.warmup_epochs:
                raise ValueError("lr_schedule='onecycle' has its own warm-up (onecycle_pct_start); "
                                 f"set warmup_epochs=0, got {self.warmup_epochs!r}")
            if not 0 < self.onecycle_pct_start < 1:
                raise ValueError(f"onecycle_pct_start must be in (0, 1), got {self.onecycle_pct_start!r}")
            if not (self.onecycle_div_factor >= 1 and self.onecycle_final_div_factor >= 1):
                raise ValueError("onecycle_div_factor and onecycle_final_div_factor must be >= 1, got "
                                 f"{self.onecycle_div_factor!r}, {self.onecycle_final_div_factor!r}")

    def _check_augment(self) -> None:
        if self.augment is not None and not (callable(self.augment) and hasattr(self.augment, "num_views")):
            raise ValueError(f"augment must be an Augment (Flip, RandomResizedCrop, MultiCrop, ...) or None, "
                             f"got {self.augment!r}")
        if self.mixup is not None:
            if not isinstance(self.mixup, Mixup):
                raise ValueError(f"mixup must be an augment.Mixup or None, got {self.mixup!r}")
            if self.batch_size % 2:
                raise ValueError(f"mixup pairs the images of a batch: batch_size must be even, got {self.batch_size}")
            if self.augmentation is not None and self.augmentation.num_views != 1:
                raise ValueError(f"mixup mixes one view, but augment gives {self.augmentation.num_views}")

    @property
    def augmentation(self) -> Augment | None:
        """The augment `fit` applies: ``augment``, or `Flip` when ``hflip``, or None."""
        if self.augment is not None:
            return self.augment
        return Flip() if self.hflip else None
