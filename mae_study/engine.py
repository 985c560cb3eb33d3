"""One training engine for every experiment of the study.

`fit` owns the loop: data order, augmentation, optimiser (AdamW), warm-up + cosine learning
rate, progress bar, evaluation hook, per-epoch atomic checkpoints and resuming. What differs
between experiments (the MAE reconstruction loss, cross-entropy, distillation losses) is a
*loss function* passed in:

    loss_fn(model, imgs, labels, ctx) -> (loss, {"name": float, ...})

Determinism: three separate seeds (initialisation is the caller's; ``data_seed`` orders the
data, ``aug_seed`` draws flips, ``mask_seed`` draws masks). Each epoch's generators are seeded
afresh from (seed, epoch), so a run resumed from the checkpoint of epoch k draws exactly what an
uninterrupted run draws in epoch k + 1, and on the CPU reaches the same weights bit for bit.

Several processes (torchrun, see `mae_study.distributed`): ``batch_size`` stays the *global*
batch. Every rank draws the same data order, flips and masks for the whole global batch and
computes its own slice of it (``StepContext.batch_slice``); DistributedDataParallel averages the
gradients, so the ranks take the step one process would take (equal up to float rounding).
Only rank 0 writes the run's files and shows progress.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn as nn
from timm.optim import param_groups_weight_decay
from tqdm.auto import tqdm

from .data.base import ImageTensorDataset
from .distributed import all_reduce_mean, barrier, get_local_rank, get_world_size, is_main_process, rank_slice
from .masking import Masking, sample_mask
from .results import RunDir, save_torch, to_jsonable

AMP_DTYPES = {None: None, "bfloat16": torch.bfloat16}
COMPILE_MODES = (None, "default", "reduce-overhead", "max-autotune")
RESUME_MAY_CHANGE = ("device", "compile")  # settings a resumed run may change: where and how fast, not what


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss; the last good checkpoint is kept."""


@dataclass(frozen=True)
class TrainConfig:
    num_epochs: int                        # passes over the training set
    batch_size: int                        # images per optimisation step (all processes together)
    lr: float = 1e-3                       # peak learning rate (absolute, not scaled by batch)
    min_lr: float = 0.0                    # floor of the cosine decay
    warmup_epochs: float = 0.0             # linear warm-up from 0 to lr
    lr_schedule: str = "cosine"            # "cosine" or "constant" (after warm-up)
    weight_decay: float = 0.05             # AdamW decoupled weight decay
    betas: tuple[float, float] = (0.9, 0.95)  # MAE's AdamW betas; torch's default is (0.9, 0.999)
    decay_norm_and_bias: bool = False      # MAE: no weight decay on norms, biases, tokens
    clip_grad: float | None = None         # max gradient norm, or None
    hflip: bool = True                     # random horizontal flip of training images
    data_seed: int = 0                     # data order
    aug_seed: int = 0                      # augmentation draws
    mask_seed: int = 0                     # masks (passed to the loss through ctx.generator)
    eval_every: int = 1                    # epochs between evaluations (the last is always evaluated)
    device: str = "cpu"                    # "cpu" or "cuda"
    amp_dtype: str | None = None           # None: fp32; "bfloat16": autocast, opt-in: not the same
                                           # arithmetic, and slow on CPUs without native bf16
    compile: str | None = None             # torch.compile mode: None (eager), "default", "reduce-overhead"
                                           # (CUDA graphs), "max-autotune"; compiles once per shape

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
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        if self.clip_grad is not None and not self.clip_grad > 0:
            raise ValueError(f"clip_grad must be None (no clipping) or > 0, got {self.clip_grad!r}")
        if not isinstance(self.eval_every, int) or self.eval_every < 1:
            raise ValueError(f"eval_every must be a positive integer, got {self.eval_every!r}")
        if self.lr_schedule not in ("cosine", "constant"):
            raise ValueError(f"lr_schedule must be 'cosine' or 'constant', got {self.lr_schedule!r}")
        if self.amp_dtype not in AMP_DTYPES:
            raise ValueError(f"amp_dtype must be one of {list(AMP_DTYPES)}, got {self.amp_dtype!r}")
        if self.compile not in COMPILE_MODES:
            raise ValueError(f"compile must be one of {list(COMPILE_MODES)}, got {self.compile!r}")


@dataclass
class StepContext:
    """What a loss function may need to know about the current step."""

    epoch: int            # 0-based epoch
    step: int             # global optimisation step
    position: float       # epoch + fraction of it done: what schedules are functions of
    generator: torch.Generator  # the mask generator (CPU), seeded per epoch
    extra: dict = field(default_factory=dict)
    global_batch_size: int | None = None  # images in the whole (all-rank) batch of this step
    batch_slice: slice | None = None      # this rank's rows of it; None: all (one process)

    def sample_mask(self, num_images: int, grid: int, mask_ratio: float, sampling: str = "random",
                    device=None) -> Masking:
        """Masks for this rank's ``num_images`` images: drawn from ``generator`` for the whole
        global batch, then cut to ``batch_slice``, so several processes draw exactly the masks
        one process would (and one process exactly what `sample_mask` draws for its batch)."""
        masking = sample_mask(self.global_batch_size or num_images, grid, mask_ratio, sampling, self.generator,
                              device=device)
        if self.batch_slice is None:
            return masking
        rows = self.batch_slice
        if rows.stop - rows.start != num_images:
            raise ValueError(f"batch_slice {rows} does not hold the {num_images} images of this rank")
        return Masking(masking.ids_keep[rows], masking.ids_restore[rows], masking.mask[rows])


LossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor, StepContext], tuple[torch.Tensor, dict]]


def lr_at(cfg: TrainConfig, position: float) -> float:
    """Learning rate at training position ``position`` (in epochs): linear warm-up, then cosine."""
    if position < cfg.warmup_epochs:
        return cfg.lr * position / cfg.warmup_epochs
    if cfg.lr_schedule == "constant":
        return cfg.lr
    t = (position - cfg.warmup_epochs) / max(cfg.num_epochs - cfg.warmup_epochs, 1e-12)
    return cfg.min_lr + (cfg.lr - cfg.min_lr) * 0.5 * (1.0 + math.cos(math.pi * min(t, 1.0)))


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """A CPU generator for (seed, epoch), independent of any other epoch's draws."""
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    if cfg.decay_norm_and_bias:
        groups = [{"params": params, "weight_decay": cfg.weight_decay}]
    else:  # timm's grouping: 1-D parameters (norms, biases) and tokens without weight decay
        groups = param_groups_weight_decay(model, cfg.weight_decay,
                                           no_weight_decay_list=("cls_token", "mask_token", "pos_embed"))
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)


def batches(data: ImageTensorDataset, batch_size: int, generator: torch.Generator | None,
            drop_last: bool) -> list[torch.Tensor]:
    """Index tensors of the batches of one epoch (shuffled when a generator is given)."""
    n = len(data)
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    stop = n - n % batch_size if drop_last and n >= batch_size else n
    return [order[i:i + batch_size] for i in range(0, stop, batch_size)]


def prepare(data: ImageTensorDataset, idx: torch.Tensor, device, hflip_gen: torch.Generator | None,
            rows: slice | None = None):
    """uint8 images of ``idx[rows]`` -> normalised float (B, C, H, W) on device, flipped at random.
    The flips are drawn for all of ``idx``, so a rank's ``rows`` flip as in one process."""
    flip = torch.rand(len(idx), generator=hflip_gen) < 0.5 if hflip_gen is not None else None
    if rows is not None:
        idx, flip = idx[rows], (flip[rows] if flip is not None else None)
    imgs = data.normalize(data.images[idx])
    if flip is not None:
        imgs[flip] = imgs[flip].flip(-1)
    return imgs.to(device, non_blocking=True), data.labels[idx].to(device, non_blocking=True)


@torch.no_grad()
def evaluate(model: nn.Module, data: ImageTensorDataset, batch_size: int = 256, device="cpu",
             progress: bool = True) -> dict:
    """Top-1 accuracy and mean cross-entropy of a classifier on ``data``."""
    was_training = model.training
    model.eval()
    correct, total, loss_sum = 0, 0, 0.0
    for idx in tqdm(batches(data, batch_size, None, drop_last=False), desc="evaluate", leave=False,
                    disable=not (progress and is_main_process()), mininterval=1.0):
        imgs, labels = prepare(data, idx, device, None)
        logits = model(imgs)
        loss_sum += nn.functional.cross_entropy(logits, labels, reduction="sum").item()
        correct += (logits.argmax(-1) == labels).sum().item()
        total += len(idx)
    model.train(was_training)
    return {"accuracy": correct / total, "loss": loss_sum / total}


def classification_loss(model: nn.Module, imgs: torch.Tensor, labels: torch.Tensor, ctx: StepContext):
    """Cross-entropy and batch accuracy: the loss of fine-tuning and supervised training."""
    logits = model(imgs)
    loss = nn.functional.cross_entropy(logits, labels)
    return loss, {"train_accuracy": (logits.argmax(-1) == labels).float().mean().item()}


def _training_model(model: nn.Module, device: torch.device, cfg: TrainConfig) -> nn.Module:
    """What the loss function calls: the model, wrapped in DDP with several processes, compiled
    when ``cfg.compile`` asks. Checkpoints and evaluation always use the plain ``model``."""
    net = model
    if get_world_size() > 1 and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        # Each rank would normalise only its slice of the batch: not the step one process takes.
        if device.type != "cuda":
            raise ValueError("a model with BatchNorm (mode='linear') cannot be trained by several CPU processes "
                             "with the same result as one; run it in one process")
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # statistics over the global batch
        net = model
    if get_world_size() > 1:
        # find_unused_parameters: a parameter may get no gradient in a step (the decoder's mask
        # token at mask ratio 0), as in one process. Buffers are constants (position embeddings).
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None,
            forward_sync_buffers=False, find_unused_parameters=True)
    if cfg.compile is not None:
        net = torch.compile(net, mode=cfg.compile)
    return net


def fit(model: nn.Module, loss_fn: LossFn, data: ImageTensorDataset, cfg: TrainConfig, *,
        run: RunDir | None = None, eval_fn: Callable[[nn.Module, int], dict] | None = None,
        on_epoch_end: Callable[[nn.Module, int], None] | None = None, progress: bool = True,
        desc: str = "train", stop_after_epoch: int | None = None) -> dict:
    """Train ``model`` on ``data`` with ``loss_fn``; returns {"history", "steps", "wall_time_s"}.

    With ``run``, a checkpoint is written atomically after every epoch (with the per-epoch and
    per-step logs), and an existing checkpoint is resumed from. ``stop_after_epoch`` stops
    early (as an interruption would), for tests and demonstrations.

    Under torchrun (after `mae_study.distributed.init_distributed`) every rank calls `fit` with
    the same arguments; ``eval_fn`` runs on every rank, ``on_epoch_end`` and all file writing
    on rank 0 only, and the logged losses and metrics are means over the ranks.
    """
    world = get_world_size()
    main = is_main_process()
    device = torch.device(cfg.device)
    if device.type == "cuda" and device.index is None and world > 1:
        device = torch.device("cuda", get_local_rank())  # one GPU per process
    rows = rank_slice(cfg.batch_size) if world > 1 else None
    amp_dtype = AMP_DTYPES[cfg.amp_dtype]
    model.to(device)
    optimizer = make_optimizer(model, cfg)
    history: list[dict] = []
    steps: list[dict] = []
    start_epoch, wall_before = 0, 0.0
    if len(data) < cfg.batch_size:
        raise ValueError(f"the training set has {len(data)} images, fewer than batch_size={cfg.batch_size}")
    if run is not None and run.checkpoint.exists():  # every rank resumes from rank 0's checkpoint
        ckpt = torch.load(run.checkpoint, map_location=device, weights_only=False)
        changed = {k: (v, getattr(cfg, k)) for k, v in ckpt.get("train_config", {}).items()
                   if k not in RESUME_MAY_CHANGE and v != to_jsonable(getattr(cfg, k))}
        if changed:
            raise ValueError(f"cannot resume {run.checkpoint}: it was trained with other settings "
                             f"({'; '.join(f'{k}: {a!r} -> {b!r}' for k, (a, b) in changed.items())}); "
                             "delete the checkpoint to start again")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        history, steps = ckpt["history"], ckpt["steps"]
        start_epoch, wall_before = ckpt["epoch"] + 1, ckpt["wall_time_s"]
    net = _training_model(model, device, cfg)
    steps_per_epoch = len(batches(data, cfg.batch_size, None, drop_last=True))
    bar = tqdm(total=cfg.num_epochs * steps_per_epoch, initial=start_epoch * steps_per_epoch,
               desc=desc, disable=not (progress and main), dynamic_ncols=True, mininterval=1.0)
    t_start = time.perf_counter()
    for epoch in range(start_epoch, cfg.num_epochs):
        model.train()
        data_gen, aug_gen = epoch_generator(cfg.data_seed, epoch), epoch_generator(cfg.aug_seed, epoch)
        ctx = StepContext(epoch, epoch * steps_per_epoch, float(epoch), epoch_generator(cfg.mask_seed, epoch),
                          global_batch_size=cfg.batch_size, batch_slice=rows)
        sums: dict[str, float] = {}
        t_epoch, seen = time.perf_counter(), 0
        for i, idx in enumerate(batches(data, cfg.batch_size, data_gen, drop_last=True)):
            ctx.step, ctx.position = epoch * steps_per_epoch + i, epoch + i / steps_per_epoch
            lr = lr_at(cfg, ctx.position)
            for group in optimizer.param_groups:
                group["lr"] = lr
            imgs, labels = prepare(data, idx, device, aug_gen if cfg.hflip else None, rows)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                loss, metrics = loss_fn(net, imgs, labels, ctx)
            if world > 1:  # log (and check) the global batch's loss: the mean over the ranks
                logged = all_reduce_mean(torch.tensor([loss.item(), *map(float, metrics.values())],
                                                      dtype=torch.float64, device=device))
                loss_value, metrics = logged[0].item(), dict(zip(metrics, logged[1:].tolist()))
            else:
                loss_value = loss.item()
            if not math.isfinite(loss_value):
                bar.close()
                raise NonFiniteLossError(
                    f"loss became {loss_value} at epoch {epoch}, step {ctx.step} (lr {lr:.3g}); "
                    f"the last good checkpoint is {'kept at ' + str(run.checkpoint) if run else 'not kept (no run folder)'}. "
                    "Try a lower lr, a longer warm-up or clip_grad.")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # DDP averages the gradients over the ranks here
            if cfg.clip_grad is not None:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad)
            optimizer.step()
            seen += len(idx)
            step_row = {"epoch": epoch, "step": ctx.step, "lr": lr, "loss": loss_value, **metrics}
            steps.append(step_row)
            for k, v in step_row.items():
                if k not in ("epoch", "step"):
                    sums[k] = sums.get(k, 0.0) + float(v)
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{step_row['loss']:.4f}",
                            img_s=f"{seen / max(time.perf_counter() - t_epoch, 1e-9):.0f}", refresh=False)
        n = i + 1
        row = {"epoch": epoch, **{("train_loss" if k == "loss" else k): v / n for k, v in sums.items()},
               "images_per_s": seen / max(time.perf_counter() - t_epoch, 1e-9)}
        if eval_fn is not None and ((epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.num_epochs):
            row.update(eval_fn(model, epoch))
        if on_epoch_end is not None and main:
            on_epoch_end(model, epoch)
        row["wall_time_s"] = wall_before + time.perf_counter() - t_start
        history.append(row)
        if run is not None and main:
            run.write_metrics(history)
            run.write_steps(steps)
            save_torch(run.checkpoint, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                        "train_config": to_jsonable(cfg),
                                        "epoch": epoch, "history": history, "steps": steps,
                                        "wall_time_s": row["wall_time_s"]})
        barrier()  # with several processes: no rank runs ahead of rank 0's checkpoint
        if stop_after_epoch is not None and epoch >= stop_after_epoch:
            break
    bar.close()
    wall = history[-1]["wall_time_s"] if history else wall_before
    return {"history": history, "steps": steps, "wall_time_s": wall}
