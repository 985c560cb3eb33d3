"""Training-step speed of MAE pre-training: the study's model against the original code's structure.

At Hata, Tadamura and Samura's config (`mae_config("dynmask_stl10")`: 96 px, patch 6, 192-d, depth 12/8, heads
12/16), batch 50, one training step = forward, backward and AdamW step, images/s of

  (a) study      the study's `MaskedAutoencoder` as the engine runs it by default (fp32, eager,
                 masks drawn inside from a generator, as `MAELoss` does);
  (b) reference  `reference_mae.ReferenceMAE`: built the way facebookresearch/mae builds it;
  (c) lightly    lightly's MAE pieces (a benchmark-only dependency; skipped if not installed),

side by side in one process, alternating (the order rotates every round), so that the drift of a
shared machine hits all of them alike. Also measured in the same run:

  * the large-matmul ceiling (fp32 2048^3, and bf16 512^3), to put GFLOP/s in proportion;
  * where (b)'s step goes: its GEMMs alone (every linear layer's forward and backward matmuls at
    their real shapes) and its attention alone (torch's fused SDPA, forward + backward); (b)'s
    time over its GEMM time bounds what any fp32 implementation of the same arithmetic with the
    same GEMM library can gain;
  * a check that (a) and (b) compute the same loss from the same weights, images and masks;
  * the loss drift of bf16 autocast against fp32 (forward, a few images: the CPU here has no
    native bf16, so bf16 steps are not timed).

    python benchmarks/bench_pretrain.py --ratios 0.75            # 2-5 minutes per ratio on 2 cores
    python benchmarks/bench_pretrain.py --ratios 0.75 --threads 1 --clock cpu \
        --out benchmarks/results/pretrain_cpu-2core_1thread-cputime.json   # cross-check, see --clock

Writes benchmarks/results/pretrain_<device>.json (ratios measured by an earlier run are kept)
and prints a table. Tried and measured before settling on (a) = fused SDPA, fp32, eager: a
chunked pure-PyTorch attention (slower than SDPA), torch.compile on the CPU (about as fast, after
minutes of compiling), a hand-written C attention kernel for narrow heads (attention about 1.35x
faster, the step 6-7 %), bf16 autocast (the CPU here has no native bf16: ~1 GFLOP/s).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_mae import ReferenceMAE, copy_study_weights  # noqa: E402

from mae_study import MaskedAutoencoder, mae_config  # noqa: E402
from mae_study.masking import num_visible, scores_to_mask  # noqa: E402
from mae_study.models.flops import train_step_flops  # noqa: E402
from mae_study.models.mae import MAEConfig  # noqa: E402
from mae_study.runs.results import git_commit, hardware, library_versions, write_json  # noqa: E402
from mae_study.train.engine import TrainConfig, make_optimizer  # noqa: E402

GOALS = {0.2: 1.5, 0.75: 2.0, 0.95: 1.5}  # issue #5: (a)/(b) at least this, fp32
RESULTS = Path(__file__).resolve().parent / "results"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
clock = CLOCKS["wall"]


def timed(fn, device) -> float:
    """Seconds ``fn`` takes on the wall clock, or (``--clock cpu``, one thread) the CPU time of
    this process, which other processes on a shared machine do not inflate."""
    sync(device)
    t = clock()
    fn()
    sync(device)
    return clock() - t


# ---------------------------------------------------------------- the three models' training steps

class LightlyMAE(nn.Module):
    """lightly's MAE pieces assembled as in lightly's MAE example: a masked timm ViT encoder, a
    linear decoder embedding, lightly's masked decoder, a prediction head on the masked tokens."""

    def __init__(self, cfg: MAEConfig):
        super().__init__()
        from lightly.models.modules import MaskedVisionTransformerDecoderTIMM, MaskedVisionTransformerTIMM
        from timm.models.vision_transformer import VisionTransformer
        vit = VisionTransformer(img_size=cfg.img_size, patch_size=cfg.patch_size, in_chans=cfg.in_chans,
                                num_classes=0, embed_dim=cfg.embed_dim, depth=cfg.depth,
                                num_heads=cfg.num_heads, mlp_ratio=cfg.mlp_ratio, qkv_bias=True)
        self.cfg = cfg
        self.backbone = MaskedVisionTransformerTIMM(vit=vit)
        self.decoder_embed = nn.Linear(cfg.embed_dim, cfg.decoder_embed_dim)
        self.decoder = MaskedVisionTransformerDecoderTIMM(
            num_patches=cfg.num_patches, embed_dim=cfg.decoder_embed_dim, depth=cfg.decoder_depth,
            num_heads=cfg.decoder_num_heads, mlp_ratio=cfg.mlp_ratio)
        self.prediction_head = nn.Linear(cfg.decoder_embed_dim, cfg.patch_dim)

    def forward(self, imgs, idx_keep, idx_mask):
        from lightly.models import utils
        B = imgs.shape[0]
        x = self.decoder_embed(self.backbone.encode(images=imgs, idx_keep=idx_keep))
        tokens = utils.repeat_token(self.decoder.mask_token, (B, self.decoder.sequence_length))
        tokens = utils.set_at_index(tokens, idx_keep, x.type_as(tokens))
        pred = self.prediction_head(utils.get_at_index(self.decoder(tokens), idx_mask))
        target = utils.get_at_index(utils.patchify(imgs, self.cfg.patch_size), idx_mask - 1)
        return F.mse_loss(pred, target)


def make_steps(cfg: MAEConfig, batch: int, mask_ratio: float, device, with_lightly: bool):
    """{name: step()} for the models, each with its own AdamW (the engine's `make_optimizer`)."""
    torch.manual_seed(0)
    study = MaskedAutoencoder(cfg).to(device)
    reference = copy_study_weights(ReferenceMAE(cfg), study).to(device)
    models = {"a_study": study, "b_reference": reference}
    if with_lightly:
        models["c_lightly"] = LightlyMAE(cfg).to(device)
    train = TrainConfig(num_epochs=1, batch_size=batch)
    opts = {name: make_optimizer(m, train) for name, m in models.items()}
    imgs = torch.randn(batch, cfg.in_chans, cfg.img_size, cfg.img_size, generator=torch.Generator().manual_seed(1))
    imgs = imgs.to(device)
    gens = {name: torch.Generator().manual_seed(2) for name in models}
    L, K = cfg.num_patches, num_visible(cfg.num_patches, mask_ratio)

    def step(name):
        model, opt, g = models[name], opts[name], gens[name]
        if name == "a_study":    # as MAELoss calls it: the model draws its masks from the generator
            loss = model(imgs, mask_ratio=mask_ratio, sampling="random", generator=g).loss
        elif name == "b_reference":
            loss = model(imgs, mask_ratio, torch.rand(batch, L, generator=g).to(device))[0]
        else:                    # lightly's token indices (CLS = 0 always kept), same K as (a), (b)
            ids = torch.argsort(torch.rand(batch, L, generator=g), dim=1).to(device) + 1
            cls = torch.zeros(batch, 1, dtype=ids.dtype, device=device)
            loss = model(imgs, torch.cat([cls, ids[:, :K]], 1), ids[:, K:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return {name: (lambda n=name: step(n)) for name in models}, study, reference, imgs


# ---------------------------------------------------------------- checks: same loss, bf16 drift

@torch.no_grad()
def loss_check(study, reference, imgs, mask_ratio: float) -> dict:
    """(a) and (b) on the same weights, images and masks: the speed is not bought with arithmetic."""
    N, L = imgs.shape[0], study.cfg.num_patches
    noise = torch.rand(N, L, generator=torch.Generator().manual_seed(3)).to(imgs.device)
    a = study(imgs, mask_ratio, masking=scores_to_mask(noise, num_visible(L, mask_ratio)))
    loss_b, pred_b, mask_b = reference(imgs, mask_ratio, noise)
    diff = abs(a.loss.item() - loss_b.item())
    return {"loss_study": a.loss.item(), "loss_reference": loss_b.item(), "loss_abs_diff": diff,
            "pred_max_abs_diff": (a.pred - pred_b).abs().max().item(), "same_mask": bool(torch.equal(a.mask, mask_b)),
            "equal_within_tolerance": bool(diff <= 1e-5 * abs(loss_b.item()) and torch.equal(a.mask, mask_b))}


@torch.no_grad()
def bf16_drift(study, imgs, mask_ratio: float, n: int) -> dict:
    """Forward loss under bf16 autocast against fp32, same weights, images and masks."""
    imgs = imgs[:n]
    L = study.cfg.num_patches
    noise = torch.rand(len(imgs), L, generator=torch.Generator().manual_seed(4)).to(imgs.device)
    masking = scores_to_mask(noise, num_visible(L, mask_ratio))
    fp32 = study(imgs, mask_ratio, masking=masking).loss.item()
    with torch.autocast(imgs.device.type, dtype=torch.bfloat16):
        bf16 = study(imgs, mask_ratio, masking=masking).loss.item()
    return {"images": len(imgs), "loss_fp32": fp32, "loss_bf16": bf16, "relative_drift": (bf16 - fp32) / fp32}


# ---------------------------------------------------------------- ceilings and (b)'s breakdown

def matmul_gflops(n: int, dtype, device) -> float:
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    a @ b
    return 2 * n ** 3 / min(timed(lambda: a @ b, device) for _ in range(3)) / 1e9


def linear_shapes(cfg: MAEConfig, batch: int, mask_ratio: float) -> list[tuple[int, int, int, int, bool]]:
    """(rows, in, out, count, input_grad) of every linear layer of (b) per step, the patch
    embedding (a stride-p convolution) as the linear layer it is; it needs no input gradient."""
    K = num_visible(cfg.num_patches, mask_ratio)
    shapes = []
    for tokens, dim, depth in ((K + 1, cfg.embed_dim, cfg.depth),
                               (cfg.num_patches + 1, cfg.decoder_embed_dim, cfg.decoder_depth)):
        M, hidden = batch * tokens, int(dim * cfg.mlp_ratio)
        shapes += [(M, dim, 3 * dim, depth, True), (M, dim, dim, depth, True),             # qkv, proj
                   (M, dim, hidden, depth, True), (M, hidden, dim, depth, True)]           # fc1, fc2
    shapes += [(batch * (K + 1), cfg.embed_dim, cfg.decoder_embed_dim, 1, True),             # decoder embed
               (batch * (cfg.num_patches + 1), cfg.decoder_embed_dim, cfg.patch_dim, 1, True),  # prediction
               (batch * cfg.num_patches, cfg.patch_dim, cfg.embed_dim, 1, False)]            # patch embed
    return shapes


def gemm_only_seconds(cfg, batch, mask_ratio, device) -> float:
    """Time of (b)'s linear-layer matmuls alone: forward X W^T, backward dY W and dY^T X (the
    patch embedding has no input gradient), into preallocated outputs."""
    total = 0.0
    for M, k, n, count, input_grad in linear_shapes(cfg, batch, mask_ratio):
        x, w, dy = (torch.randn(M, k, device=device), torch.randn(n, k, device=device),
                    torch.randn(M, n, device=device))
        y, dx, dw = torch.empty(M, n, device=device), torch.empty(M, k, device=device), torch.empty(n, k, device=device)

        def run():
            torch.mm(x, w.t(), out=y)
            if input_grad:
                torch.mm(dy, w, out=dx)
            torch.mm(dy.t(), x, out=dw)
        run()
        total += count * timed(run, device)
    return total


def attention_only_seconds(cfg, batch, mask_ratio, device) -> float:
    """Time of (b)'s attention alone: fused SDPA forward + backward at every block's shape."""
    K = num_visible(cfg.num_patches, mask_ratio)
    total = 0.0
    for tokens, dim, heads, depth in ((K + 1, cfg.embed_dim, cfg.num_heads, cfg.depth),
                                      (cfg.num_patches + 1, cfg.decoder_embed_dim, cfg.decoder_num_heads,
                                       cfg.decoder_depth)):
        q, k, v = (torch.randn(batch, heads, tokens, dim // heads, device=device, requires_grad=True)
                   for _ in range(3))
        grad = torch.randn(batch, heads, tokens, dim // heads, device=device)

        def run():
            F.scaled_dot_product_attention(q, k, v).backward(grad)
        run()
        total += depth * timed(run, device)
    return total


# ---------------------------------------------------------------- one mask ratio

def bench_ratio(cfg, batch, mask_ratio, rounds, device, with_lightly, bf16_images) -> dict:
    steps, study, reference, imgs = make_steps(cfg, batch, mask_ratio, device, with_lightly)
    check = loss_check(study, reference, imgs, mask_ratio)
    names = list(steps)
    for name in names:  # warm-up: allocator, kernels, optimizer state
        steps[name]()
    times = {name: [] for name in names}
    extra = {"gemm_only": [], "attention_only": [], "ceiling_fp32": []}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            times[name].append(timed(steps[name], device))
            print(f"  ratio {mask_ratio} round {r} {name}: {batch / times[name][-1]:.2f} img/s", flush=True)
        extra["gemm_only"].append(gemm_only_seconds(cfg, batch, mask_ratio, device))
        extra["attention_only"].append(attention_only_seconds(cfg, batch, mask_ratio, device))
        extra["ceiling_fp32"].append(matmul_gflops(2048, torch.float32, device))
    # Other processes on a shared machine only ever add time: the fastest of the rounds is the
    # least disturbed measurement of each model (and the median of the per-round ratios, taken
    # from steps run back to back, a second estimate).
    flops = train_step_flops(cfg, mask_ratio)
    ceiling = max(extra["ceiling_fp32"])
    out = {"flops_per_image_gflop": flops / 1e9, "ceiling_fp32_gflop_s": ceiling, "models": {}}
    for name, ts in times.items():
        best = min(ts)
        out["models"][name] = {"images_per_s": batch / best, "images_per_s_all": [batch / t for t in ts],
                               "images_per_s_median": batch / statistics.median(ts), "step_s_best": best,
                               "gflop_per_s": flops * batch / best / 1e9,
                               "fraction_of_ceiling": flops * batch / best / 1e9 / ceiling}
    t_a, t_b = out["models"]["a_study"]["step_s_best"], out["models"]["b_reference"]["step_s_best"]
    gemm, attn = min(extra["gemm_only"]), min(extra["attention_only"])
    out["ratio_a_over_b"] = t_b / t_a
    out["ratio_a_over_b_per_round"] = [b / a for a, b in zip(times["a_study"], times["b_reference"])]
    out["ratio_a_over_b_median_of_rounds"] = statistics.median(out["ratio_a_over_b_per_round"])
    out["goal"] = GOALS.get(mask_ratio)
    out["goal_met"] = out["goal"] is not None and out["ratio_a_over_b"] >= out["goal"]
    out["reference_breakdown_s"] = {"step": t_b, "gemm_only": gemm, "sdpa_attention_only": attn,
                                    "rest": t_b - gemm - attn}
    out["bound_fp32_b_over_gemm_only"] = t_b / gemm
    out["loss_check"] = check
    if bf16_images:
        out["bf16_autocast_drift"] = bf16_drift(study, imgs, mask_ratio, bf16_images)
    return out


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device).lower().replace(" ", "-")
    return f"cpu-{os.cpu_count()}core"


def print_table(results: dict) -> None:
    print(f"\n{results['device']}, {results['threads']} thread(s), {results['clock']} clock, "
          f"batch {results['batch_size']}; bf16 matmul (512^3) {results['ceiling_bf16_gflop_s']:.1f} GFLOP/s")
    print("| mask | model | images/s (best) | images/s (median) | GFLOP/s | of fp32 ceiling |")
    print("|---|---|---|---|---|---|")
    for ratio, r in sorted(results["ratios"].items(), key=lambda kv: float(kv[0])):
        for name, m in r["models"].items():
            print(f"| {ratio} | {name} | {m['images_per_s']:.2f} | {m['images_per_s_median']:.2f} | "
                  f"{m['gflop_per_s']:.0f} | {m['fraction_of_ceiling']:.0%} |")
    for ratio, r in sorted(results["ratios"].items(), key=lambda kv: float(kv[0])):
        c, b = r["loss_check"], r["reference_breakdown_s"]
        print(f"mask {ratio}: (a)/(b) {r['ratio_a_over_b']:.2f} (median of rounds "
              f"{r['ratio_a_over_b_median_of_rounds']:.2f}; goal {r['goal']}: "
              f"{'met' if r['goal_met'] else 'not met'}); (b)'s step {b['step']:.2f} s = GEMMs "
              f"{b['gemm_only']:.2f} + SDPA {b['sdpa_attention_only']:.2f} + rest {b['rest']:.2f}: removing all but "
              f"its GEMMs gives at most {r['bound_fp32_b_over_gemm_only']:.2f}x; fp32 ceiling "
              f"{r['ceiling_fp32_gflop_s']:.0f} GFLOP/s; loss (a) {c['loss_study']:.6f} vs (b) "
              f"{c['loss_reference']:.6f} (diff {c['loss_abs_diff']:.1e}, same masks {c['same_mask']})"
              + (f"; bf16 autocast drift {r['bf16_autocast_drift']['relative_drift']:+.1e}"
                 if "bf16_autocast_drift" in r else ""))
        if r["goal"]:  # what the goal asks of the same arithmetic, against the measured ceiling
            need = r["goal"] * r["models"]["b_reference"]["gflop_per_s"]
            print(f"mask {ratio}: the goal {r['goal']}x needs {need:.0f} GFLOP/s over the whole step = "
                  f"{need / r['ceiling_fp32_gflop_s']:.0%} of the 2048^3 matmul ceiling")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ratios", type=float, nargs="+", default=[0.2, 0.75, 0.95])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-lightly", action="store_true")
    parser.add_argument("--bf16-images", type=int, default=4, help="images for the bf16 drift check (0: skip)")
    parser.add_argument("--clock", choices=list(CLOCKS), default="wall",
                        help="cpu: process CPU time, a cross-check immune to other processes (one thread only)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--table", type=Path, default=None, help="print the table of an earlier JSON; measure nothing")
    args = parser.parse_args(argv)
    if args.table:
        results = json.loads(args.table.read_text())
        print_table(results)
        return results
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.clock == "cpu" and (torch.get_num_threads() != 1 or args.device != "cpu"):
        parser.error("--clock cpu needs --threads 1 on the CPU (with more threads it counts their waiting)")
    global clock
    clock = CLOCKS[args.clock]
    device = torch.device(args.device)
    cfg = mae_config("dynmask_stl10")
    with_lightly = not args.no_lightly
    if with_lightly:
        try:
            import lightly  # noqa: F401
        except ImportError as err:
            print(f"lightly not installed ({err}); model (c) skipped")
            with_lightly = False
    name = device_name(device)
    out_path = args.out or RESULTS / f"pretrain_{name}.json"
    results = json.loads(out_path.read_text()) if out_path.exists() else {"ratios": {}}
    results.update({"device": name, "threads": torch.get_num_threads(), "clock": args.clock, "batch_size": args.batch,
                    "config": asdict(cfg), "hardware": hardware(device), "versions": library_versions(),
                    "git_commit": git_commit(), "lightly": with_lightly,
                    "ceiling_bf16_gflop_s": matmul_gflops(512, torch.bfloat16, device)})
    if with_lightly:
        import lightly
        results["versions"]["lightly"] = lightly.__version__
    for ratio in args.ratios:
        load_before = os.getloadavg()[0]  # other processes on the machine (1-minute load average)
        r = bench_ratio(cfg, args.batch, ratio, args.rounds, device, with_lightly, args.bf16_images)
        r.update({"rounds": args.rounds, "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"),
                  "load_average_before_after": [load_before, os.getloadavg()[0]]})
        results["ratios"][str(ratio)] = r
        write_json(out_path, results)  # after every ratio, so a long run keeps what it measured
    print_table(results)
    print(f"\nwrote {out_path}")
    return results


if __name__ == "__main__":
    main()
