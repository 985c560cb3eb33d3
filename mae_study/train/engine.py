"""One training engine for every experiment of the study.

`fit` owns the loop: data order, augmentation, optimiser, learning-rate schedule, per-step hooks,
progress bar, evaluation, per-epoch atomic checkpoints and resuming. What differs between
experiments is passed in: the *loss function* (MAE reconstruction, cross-entropy, BCE, DINO and
distillation losses) and, in `TrainConfig`, the augmentation and the optimiser:

    loss_fn(model, batch, ctx) -> (loss, {"name": float, ...})

``batch`` holds one or more normalised views and the targets (`mae_study.train.batch.Batch`), ``ctx``
the step's position, mask generator and extra modules (`StepContext`). The pieces live in their
own modules: `train_config` (`TrainConfig`), `batch`, `augment` (views, Mixup), `optim`
(AdamW / SGD, schedules), `hooks` (EMA teacher), `loaders` (in-memory or streamed data),
`evaluation` (top-1, mAP), `losses`. Extra trainable modules (``extra_modules``, e.g. a DINO
head) are optimised with the model; the hooks' and a stateful loss's states are checkpointed.

Determinism: separate seeds (initialisation is the caller's; ``data_seed`` orders the data,
``aug_seed`` draws augmentations, ``mask_seed`` draws masks). Each epoch's generators are seeded
afresh from (seed, epoch), so a run resumed from the checkpoint of epoch k draws exactly what an
uninterrupted run draws in epoch k + 1, and on the CPU reaches the same weights bit for bit.

Several processes (torchrun, see `mae_study.train.distributed`): ``batch_size`` stays the *global*
batch. Every rank draws the same data order, augmentations and masks for the whole global batch
and computes its own slice of it (``StepContext.batch_slice``); DistributedDataParallel averages
the gradients, so the ranks take the step one process would take (equal up to float rounding).
Only rank 0 writes the run's files and shows progress.
"""
from __future__ import annotations

import inspect
import math
import time
from typing import Callable, Sequence

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from mae_study.runs.results import RunDir, save_torch, to_jsonable
from mae_study.train.batch import Batch, BatchMaker, StepContext, check_target_kind, prepare  # noqa: F401 (re-exported)
from mae_study.train.config import AMP_DTYPES, COMPILE_MODES, TrainConfig  # noqa: F401 (re-exported)
from mae_study.train.distributed import (all_reduce_mean, barrier, get_local_rank, get_world_size, is_main_process,
                                         rank_slice)
from mae_study.train.evaluation import evaluate  # noqa: F401 (re-exported)
from mae_study.train.hooks import Hook
from mae_study.train.loaders import Data, batches, data_target_kind, load_batches
from mae_study.train.losses import classification_loss, multilabel_loss  # noqa: F401 (re-exported)
from mae_study.train.optim import (lr_at, make_optimizer, set_lr, set_weight_decay,  # noqa: F401 (re-exported)
                                  weight_decay_at)

RESUME_MAY_CHANGE = ("device", "compile")  # settings a resumed run may change: where and how fast, not what

LossFn = Callable[[nn.Module, Batch, StepContext], tuple[torch.Tensor, dict]]


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss; the last good checkpoint is kept."""


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """A CPU generator for (seed, epoch), independent of any other epoch's draws."""
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def _training_model(model: nn.Module, device: torch.device, cfg: TrainConfig) -> nn.Module:
    """What the loss function calls: the model, wrapped in DDP with several processes, compiled
    when ``cfg.compile`` asks. Checkpoints and evaluation always use the plain ``model``."""
    net = model
    several = get_world_size() > 1 and any(p.requires_grad for p in model.parameters())
    if several and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        # Each rank would normalise only its slice of the batch: not the step one process takes.
        if device.type != "cuda":
            raise ValueError("a model with BatchNorm (mode='linear') cannot be trained by several CPU processes "
                             "with the same result as one; run it in one process")
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # statistics over the global batch
        net = model
    if several:
        # find_unused_parameters: a parameter may get no gradient in a step (the decoder's mask
        # token at mask ratio 0), as in one process. Buffers are constants (position embeddings).
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None,
            forward_sync_buffers=False, find_unused_parameters=True)
    if cfg.compile is not None:
        net = torch.compile(net, mode=cfg.compile)
    return net


def _check_inputs(loss_fn, data: Data, cfg: TrainConfig, extra: dict[str, nn.Module]) -> None:
    """Clear errors before any compute: loss signature, targets the loss cannot learn, data size."""
    try:
        inspect.signature(loss_fn).bind(None, None, None)
    except TypeError:
        raise ValueError("loss_fn must take (model, batch, ctx) and read batch.imgs / batch.labels; "
                         f"{getattr(loss_fn, '__name__', loss_fn)!r} takes {inspect.signature(loss_fn)}") from None
    except ValueError:  # no signature to inspect (a builtin): trust it
        pass
    kind = "soft" if cfg.mixup is not None and data_target_kind(data) == "class" else data_target_kind(data)
    if hasattr(loss_fn, "target_kinds"):
        check_target_kind(f"loss_fn ({type(loss_fn).__name__})", kind, tuple(loss_fn.target_kinds))
    if len(data) < cfg.batch_size:
        raise ValueError(f"the training set has {len(data)} images, fewer than batch_size={cfg.batch_size}")
    bad = [k for k, m in extra.items() if not isinstance(m, nn.Module) or not k.isidentifier()]
    if bad:
        raise ValueError(f"extra_modules must map identifier names to nn.Modules; bad entries: {bad}")


def _stateful(obj) -> bool:
    return callable(getattr(obj, "state_dict", None)) and callable(getattr(obj, "load_state_dict", None))


def _resume(path, cfg: TrainConfig, device, parts: dict) -> dict:
    """Load the checkpoint at ``path`` into ``parts`` ({"model": m, "optimizer": o, ...}); refuses
    a checkpoint trained with other settings, or with other extra modules, hooks or loss state."""
    ckpt = torch.load(path, map_location=device, weights_only=False)
    changed = {k: (v, getattr(cfg, k)) for k, v in ckpt.get("train_config", {}).items()
               if k not in RESUME_MAY_CHANGE and v != to_jsonable(getattr(cfg, k))}
    missing = [k for k in parts if k not in ckpt]
    unused = [k for k in ckpt if k not in parts and (k in ("extra_modules", "loss") or k.startswith("hook"))]
    if changed or missing or unused:
        why = "; ".join([f"{k}: {a!r} -> {b!r}" for k, (a, b) in changed.items()] +
                        [f"no saved state for {k!r}" for k in missing] +
                        [f"a saved state for {k!r}, which this run does not have" for k in unused])
        raise ValueError(f"cannot resume {path}: it was trained with other settings ({why}); "
                         "delete the checkpoint to start again")
    for key, part in parts.items():
        part.load_state_dict(ckpt[key])
    return ckpt


def fit(model: nn.Module, loss_fn: LossFn, data: Data, cfg: TrainConfig, *,
        run: RunDir | None = None, eval_fn: Callable[[nn.Module, int], dict] | None = None,
        on_epoch_end: Callable[[nn.Module, int], None] | None = None, progress: bool = True,
        desc: str = "train", stop_after_epoch: int | None = None, hooks: Sequence[Hook] = (),
        extra_modules: dict[str, nn.Module] | None = None) -> dict:
    """Train ``model`` on ``data`` with ``loss_fn``; returns {"history", "steps", "wall_time_s"}.

    Args:
        data: an in-memory ``ImageTensorDataset`` or a `StreamedData` (read by a DataLoader).
        run: a checkpoint is written atomically after every epoch (with the per-epoch and per-step
            logs), and an existing checkpoint is resumed from.
        stop_after_epoch: stop early (as an interruption would), for tests and demonstrations.
        hooks: called before (gradients ready) and after every optimiser step (e.g. `hooks.EmaHook`);
            saved in the checkpoint.
        extra_modules: more trainable modules ({name: module}, e.g. a DINO head), moved to the
            device, put in train mode, optimised with the model, saved in the checkpoint; the loss
            gets them (wrapped like the model) as ``ctx.modules``. A loss function with
            ``state_dict`` / ``load_state_dict`` (a DINO centre) is saved and restored too.

    Under torchrun (after `mae_study.train.distributed.init_distributed`) every rank calls `fit` with
    the same arguments; ``eval_fn`` runs on every rank, ``on_epoch_end`` and all file writing
    on rank 0 only, and the logged losses and metrics are means over the ranks.
    """
    world, main = get_world_size(), is_main_process()
    device = torch.device(cfg.device)
    if device.type == "cuda" and device.index is None and world > 1:
        device = torch.device("cuda", get_local_rank())  # one GPU per process
    rows = rank_slice(cfg.batch_size) if world > 1 else None
    amp_dtype = AMP_DTYPES[cfg.amp_dtype]
    extra = dict(extra_modules or {})
    _check_inputs(loss_fn, data, cfg, extra)
    for module in (model, *extra.values(), *([loss_fn] if isinstance(loss_fn, nn.Module) else [])):
        module.to(device)
    for hook in hooks:
        if hasattr(hook, "setup"):
            hook.setup(model, extra)
    optimizer = make_optimizer(model, cfg, extra)
    parts = {"model": model, "optimizer": optimizer, **({"extra_modules": nn.ModuleDict(extra)} if extra else {}),
             **{f"hook{k}": h for k, h in enumerate(hooks) if _stateful(h)},
             **({"loss": loss_fn} if _stateful(loss_fn) else {})}  # what the checkpoint holds
    make_batch = BatchMaker(cfg.augmentation, cfg.mixup, data.mean, data.std, data.num_classes, cfg.batch_size,
                            rows, device)
    history, steps, start_epoch, wall_before = [], [], 0, 0.0
    if run is not None and run.checkpoint.exists():  # every rank resumes from rank 0's checkpoint
        ckpt = _resume(run.checkpoint, cfg, device, parts)
        history, steps = ckpt["history"], ckpt["steps"]
        start_epoch, wall_before = ckpt["epoch"] + 1, ckpt["wall_time_s"]
    net = _training_model(model, device, cfg)
    modules = {k: _training_model(m, device, cfg) for k, m in extra.items()}
    trained = [p for m in (model, *extra.values()) for p in m.parameters()]
    steps_per_epoch = len(batches(data, cfg.batch_size, None, drop_last=True))
    bar = tqdm(total=cfg.num_epochs * steps_per_epoch, initial=start_epoch * steps_per_epoch,
               desc=desc, disable=not (progress and main), dynamic_ncols=True, mininterval=1.0)
    t_start = time.perf_counter()
    for epoch in range(start_epoch, cfg.num_epochs):
        for module in (model, *extra.values()):
            module.train()
        data_gen, aug_gen = epoch_generator(cfg.data_seed, epoch), epoch_generator(cfg.aug_seed, epoch)
        ctx = StepContext(epoch, epoch * steps_per_epoch, float(epoch), epoch_generator(cfg.mask_seed, epoch),
                          global_batch_size=cfg.batch_size, batch_slice=rows, modules=modules)
        sums: dict[str, float] = {}
        t_epoch, seen = time.perf_counter(), 0
        order = batches(data, cfg.batch_size, data_gen, drop_last=True)
        for i, (idx, images, labels) in enumerate(load_batches(data, order, make_batch.load_rows, data_gen, epoch)):
            ctx.step, ctx.position = epoch * steps_per_epoch + i, epoch + i / steps_per_epoch
            lr = lr_at(cfg, ctx.position)
            set_lr(optimizer, lr)
            if cfg.weight_decay_end is not None:
                set_weight_decay(optimizer, weight_decay_at(cfg, ctx.position))
            batch = make_batch(idx, images, labels, aug_gen)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                loss, metrics = loss_fn(net, batch, ctx)
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
                nn.utils.clip_grad_norm_(trained, cfg.clip_grad)
            for hook in hooks:  # e.g. DINO drops the last layer's gradients in the first epoch
                if hasattr(hook, "before_step"):
                    hook.before_step(model, ctx)
            optimizer.step()
            for hook in hooks:
                hook.after_step(model, ctx)
            seen += cfg.batch_size
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
            save_torch(run.checkpoint, {**{k: part.state_dict() for k, part in parts.items()},
                                        "train_config": to_jsonable(cfg), "epoch": epoch, "history": history,
                                        "steps": steps, "wall_time_s": row["wall_time_s"]})
        barrier()  # with several processes: no rank runs ahead of rank 0's checkpoint
        if stop_after_epoch is not None and epoch >= stop_after_epoch:
            break
    bar.close()
    wall = history[-1]["wall_time_s"] if history else wall_before
    return {"history": history, "steps": steps, "wall_time_s": wall}
