"""The engine's GPU options, measured: training-step speed of the study's MAE and of its fine-tuned
classifier at the ``gpu`` profile's model, under each option the README offers but had never
measured (fp32, bf16 autocast, torch.compile, fused attention), and what that makes of the gpu
profile's pre-training schedule.

For each variant, one training step = forward, backward and AdamW step (the engine's
`make_optimizer`) on random images of the gpu profile's size, timed with CUDA synchronisation
after warm-up steps (compilation stays out of the time and is reported on its own); the median of
``--rounds`` timings of ``--steps`` steps. Also: bf16's loss against fp32's on the same weights,
images and masks (the arithmetic is not the same: the README keeps bf16 opt-in).

    python benchmarks/bench_gpu.py                      # on a CUDA machine; about 3 minutes
    python benchmarks/bench_gpu.py --device cpu --batches 8 --steps 2 --rounds 1 --no-compile   # smoke test

Writes benchmarks/results/gpu_<device name>.json and prints a table.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from mae_study import MAEClassifier, MaskedAutoencoder, mae_config
from mae_study.models.flops import classifier_forward_flops, train_step_flops
from mae_study.runs.pretrain import pretrain_defaults
from mae_study.runs.results import git_commit, hardware, library_versions, write_json
from mae_study.train.config import TrainConfig
from mae_study.train.optim import make_optimizer

RESULTS = Path(__file__).resolve().parent / "results"


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_fn(kind: str, cfg, batch: int, device, amp: bool, compile_mode: str | None, mask_ratio: float):
    """A closure running one training step of ``kind`` ("pretrain" or "finetune") and the model."""
    torch.manual_seed(0)
    mae = MaskedAutoencoder(cfg).to(device)
    model = mae if kind == "pretrain" else MAEClassifier(mae.encoder, num_classes=10, pool="mean").to(device)
    opt = make_optimizer(model, TrainConfig(num_epochs=1, batch_size=batch))
    net = torch.compile(model, mode=compile_mode) if compile_mode else model
    g = torch.Generator().manual_seed(1)
    imgs = torch.randn(batch, cfg.in_chans, cfg.img_size, cfg.img_size, generator=g).to(device)
    labels = torch.randint(0, 10, (batch,), generator=g).to(device)
    mask_gen = torch.Generator().manual_seed(2)  # masks are drawn on the CPU, as the engine draws them

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            if kind == "pretrain":
                loss = net(imgs, mask_ratio=mask_ratio, sampling="random", generator=mask_gen).loss
            else:
                loss = torch.nn.functional.cross_entropy(net(imgs), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss
    return step


def measure(step, device, steps: int, rounds: int, warmup: int) -> dict:
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(warmup):
        step()
    _sync(device)
    first = time.perf_counter() - t0
    times = []
    for _ in range(rounds):
        _sync(device)
        t = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
        times.append((time.perf_counter() - t) / steps)
    return {"step_s_median": statistics.median(times), "step_s_all": times, "warmup_s": first}


@torch.no_grad()
def bf16_drift(cfg, device, mask_ratio: float, images: int = 64) -> dict:
    """fp32 and bf16-autocast losses of one model on the same images and masks."""
    torch.manual_seed(0)
    mae = MaskedAutoencoder(cfg).to(device).eval()
    imgs = torch.randn(images, cfg.in_chans, cfg.img_size, cfg.img_size,
                       generator=torch.Generator().manual_seed(1)).to(device)
    losses = {}
    for amp in (False, True):
        g = torch.Generator().manual_seed(2)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            losses["bf16" if amp else "fp32"] = mae(imgs, mask_ratio=mask_ratio, sampling="random", generator=g).loss.item()
    return {**losses, "relative_drift": losses["bf16"] / losses["fp32"] - 1}


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--batches", type=_positive, nargs="+", default=[50, 256])
    ap.add_argument("--steps", type=_positive, default=20)
    ap.add_argument("--rounds", type=_positive, default=3)
    ap.add_argument("--warmup", type=_positive, default=5)
    ap.add_argument("--mask-ratio", type=float, default=0.75)
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    if not 0 <= args.mask_ratio < 1:
        ap.error(f"--mask-ratio must be in [0, 1), got {args.mask_ratio}")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        ap.error("--device cuda: no CUDA device here (use --device cpu for a smoke test)")
    device = torch.device(args.device)
    gpu = pretrain_defaults()["gpu"]
    base = mae_config(gpu["model"], img_size=gpu["image_size"])
    variants = [("fp32", False, None, True), ("fp32, plain attention", False, None, False), ("bf16", True, None, True)]
    if not args.no_compile:
        variants += [("bf16 + compile", True, "default", True)]
    name = (torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu").lower().replace(" ", "-")
    path = args.out or RESULTS / f"gpu_{name}.json"
    rows = []
    for kind in ("pretrain", "finetune"):
        flops = (train_step_flops(base, args.mask_ratio) if kind == "pretrain" else 3 * classifier_forward_flops(base))
        for batch in args.batches:
            for name, amp, comp, fused in variants:
                cfg = replace(base, fused_attn=fused)
                r = measure(step_fn(kind, cfg, batch, device, amp, comp, args.mask_ratio), device,
                            args.steps, args.rounds, args.warmup)
                r.update(kind=kind, variant=name, batch=batch, images_per_s=batch / r["step_s_median"],
                         tflops_per_s=flops * batch / r["step_s_median"] / 1e12)
                rows.append(r)
                write_json(path, {"partial": True, "rows": rows})  # kept if a later variant is cut off
                print(f"{kind:8s} batch {batch:4d} {name:22s} {r['images_per_s']:9.0f} img/s "
                      f"{r['tflops_per_s']:6.1f} TFLOP/s (warm-up {r['warmup_s']:.1f} s)", flush=True)
    schedule = gpu["num_images"] * gpu["num_epochs"]
    estimate = [{"kind": r["kind"], "variant": r["variant"], "batch": r["batch"],
                 "pretraining_hours": schedule / r["images_per_s"] / 3600} for r in rows if r["kind"] == "pretrain"]
    out = {"device": hardware(device), "commit": git_commit(), "libraries": library_versions(),
           "model": gpu["model"], "image_size": gpu["image_size"], "mask_ratio": args.mask_ratio,
           "gpu_profile_pretraining_image_steps": schedule, "rows": rows, "gpu_profile_pretraining_estimate": estimate,
           "bf16_drift": bf16_drift(base, device, args.mask_ratio)}
    write_json(path, out)
    print(f"bf16 loss drift {out['bf16_drift']['relative_drift']:+.1e}; wrote {path}")
    for e in estimate:
        print(f"gpu profile pre-training ({schedule:,} image-steps), {e['variant']}, batch {e['batch']}: "
              f"{e['pretraining_hours']:.2f} h")
    return out


if __name__ == "__main__":
    sys.exit(main() and 0)
