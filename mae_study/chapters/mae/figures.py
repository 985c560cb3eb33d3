"""Teaching figures of the MAE chapters: patches and tokens, masks, reconstructions and their
targets, drawn from run files (reconstruction snapshots) or from a single image."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from mae_study.masking import num_visible, sample_mask, unpatchify
from mae_study.models.mae import MAEConfig, reconstruction_target
from mae_study.report.style import book_style
from mae_study.runs.results import RunDir


def _recon_files(run: RunDir) -> list[Path]:
    return sorted(run.path.glob("recon_e*.pt"))


def _last_snapshot(run: RunDir) -> dict:
    """A run's last reconstruction snapshot; a clear error when it saved none."""
    files = _recon_files(run)
    if not files:
        raise FileNotFoundError(f"{run.path} has no reconstruction snapshots (recon_e*.pt)")
    return torch.load(files[-1], weights_only=False)


def _no_ticks(ax) -> None:
    ax.set_xticks([]), ax.set_yticks([])
    ax.grid(False)


@book_style()
def plot_reconstructions(run: RunDir, max_images: int = 4):
    """Rows: images; column groups: epochs; each group = masked input | prediction + visible | original."""
    snaps = [torch.load(f, weights_only=False) for f in _recon_files(run)]
    if not snaps:
        raise FileNotFoundError(f"{run.path} has no reconstruction snapshots (recon_e*.pt)")
    n = min(max_images, len(snaps[0]["original"]))
    cols = len(snaps) * 2 + 1
    fig, axes = plt.subplots(n, cols, figsize=(1.3 * cols, 1.35 * n + 0.4), squeeze=False)
    for r in range(n):
        for s, snap in enumerate(snaps):
            for c, key in enumerate(("masked", "pasted")):
                ax = axes[r, 2 * s + c]
                ax.imshow(snap[key][r])
                if r == 0:
                    ax.set_title(f"{'masked' if c == 0 else 'recon.'}\nepoch {snap['epoch'] + 1}", fontsize=8)
        axes[r, -1].imshow(snaps[-1]["original"][r])
        if r == 0:
            axes[r, -1].set_title("original", fontsize=8)
    for ax in axes.flat:
        _no_ticks(ax)
    fig.tight_layout()
    return fig


@book_style()
def plot_masks(grid: int = 8, ratios=(0.5, 0.75, 0.9), samplings=("random", "block", "grid"), seed: int = 0):
    """The three samplings at several ratios on one patch grid (dark = masked)."""
    fig, axes = plt.subplots(len(samplings), len(ratios), figsize=(2.1 * len(ratios), 2.2 * len(samplings)),
                             squeeze=False)
    for i, sampling in enumerate(samplings):
        for j, ratio in enumerate(ratios):
            m = sample_mask(1, grid, ratio, sampling, torch.Generator().manual_seed(seed)).mask.view(grid, grid)
            ax = axes[i, j]
            ax.imshow(1 - m.numpy(), cmap="gray", vmin=0, vmax=1)
            _no_ticks(ax)
            ax.set_title(f"{sampling}, {int(round(ratio * 100))} %", fontsize=9)
    fig.tight_layout()
    return fig


def _tiles(image: np.ndarray, patch_size: int) -> list[np.ndarray]:
    """(H, W, C) uint8 -> its patches in row-major order, each (p, p, C)."""
    p = patch_size
    h, w = image.shape[0] // p, image.shape[1] // p
    return [image[i * p:(i + 1) * p, j * p:(j + 1) * p] for i in range(h) for j in range(w)]


def _strip(tiles: list[np.ndarray], gap: int = 1, per_row: int | None = None, fill: int = 255) -> np.ndarray:
    """Tiles of equal size side by side with ``gap`` pixels between them, wrapped after ``per_row``."""
    p, c = tiles[0].shape[0], tiles[0].shape[2]
    per_row = per_row or len(tiles)
    rows = -(-len(tiles) // per_row)
    canvas = np.full((rows * (p + gap) - gap, per_row * (p + gap) - gap, c), fill, dtype=np.uint8)
    for k, t in enumerate(tiles):
        r, q = divmod(k, per_row)
        canvas[r * (p + gap):r * (p + gap) + p, q * (p + gap):q * (p + gap) + p] = t
    return canvas


@book_style()
def plot_patchify(image: np.ndarray, patch_size: int):
    """An image, its patch grid, and the same patches pulled apart: what the encoder's tokens are.

    Args:
        image: (H, W, C) uint8.
        patch_size: side of a square patch; must divide H and W.
    """
    if image.shape[0] % patch_size or image.shape[1] % patch_size:
        raise ValueError(f"patch_size {patch_size} must divide the image size {image.shape[0]}x{image.shape[1]}")
    grid = image.shape[0] // patch_size
    fig, (a, b) = plt.subplots(1, 2, figsize=(6.4, 3.2))
    a.imshow(image, interpolation="nearest")
    for k in range(1, grid):
        a.axhline(k * patch_size - 0.5, color="white", lw=0.8)
        a.axvline(k * patch_size - 0.5, color="white", lw=0.8)
    a.set_title(f"{image.shape[0]} x {image.shape[1]} px, patches of {patch_size} px", fontsize=9)
    b.imshow(_strip(_tiles(image, patch_size), gap=max(1, patch_size // 4), per_row=grid), interpolation="nearest")
    b.set_title(f"L = {grid * grid} patches (tokens), row-major order", fontsize=9)
    for ax in (a, b):
        _no_ticks(ax)
    fig.tight_layout()
    return fig


def token_counts(num_patches: int, ratios=(0.1, 0.5, 0.75, 0.9)) -> pd.DataFrame:
    """Tokens the encoder and the decoder process at each mask ratio (CLS included)."""
    rows = []
    for r in ratios:
        keep = num_visible(num_patches, r)
        rows.append({"mask ratio": f"{round(r * 100)} %", "patches L": num_patches, "visible K": keep,
                     "encoder tokens (K + 1)": keep + 1, "decoder tokens (L + 1)": num_patches + 1,
                     "encoder share of tokens": round((keep + 1) / (num_patches + 1), 3)})
    return pd.DataFrame(rows)


@book_style()
def plot_token_sequences(image: np.ndarray, patch_size: int, mask_ratio: float = 0.75, sampling: str = "random",
                         seed: int = 0):
    """The masked image, the short sequence the encoder gets (CLS + visible patches, in the
    shuffled order of ``ids_keep``) and the full sequence the decoder gets (CLS + every position
    in patch order, a shared mask token, grey, at each masked one)."""
    grid = image.shape[0] // patch_size
    m = sample_mask(1, grid, mask_ratio, sampling, torch.Generator().manual_seed(seed))
    tiles = _tiles(image, patch_size)
    shape = tiles[0].shape
    cls_tile = np.zeros(shape, np.uint8)
    cls_tile[..., 2] = 160  # CLS: dark blue
    mask_tile = np.full(shape, 170, np.uint8)
    masked = [mask_tile if m.mask[0, k] else t for k, t in enumerate(tiles)]
    encoder_seq = [cls_tile] + [tiles[k] for k in m.ids_keep[0].tolist()]
    decoder_seq = [cls_tile] + masked
    fig = plt.figure(figsize=(9, 3.3))
    gs = fig.add_gridspec(2, 2, width_ratios=(1, 4.2))
    a = fig.add_subplot(gs[:, 0])
    a.imshow(_strip(masked, gap=1, per_row=grid), interpolation="nearest")
    a.set_title(f"{sampling} mask, {round(mask_ratio * 100)} %", fontsize=9)
    gap = max(1, patch_size // 4)
    per_row = min(len(decoder_seq), 33)
    b = fig.add_subplot(gs[0, 1])
    b.imshow(_strip(encoder_seq, gap=gap, per_row=per_row), interpolation="nearest")
    b.set_title(f"encoder input: CLS + {len(encoder_seq) - 1} visible patches = {len(encoder_seq)} tokens",
                fontsize=9, loc="left")
    c = fig.add_subplot(gs[1, 1])
    c.imshow(_strip(decoder_seq, gap=gap, per_row=per_row), interpolation="nearest")
    c.set_title(f"decoder input: CLS + {len(decoder_seq) - 1} positions (mask tokens grey) = {len(decoder_seq)} tokens",
                fontsize=9, loc="left")
    for ax in (a, b, c):
        _no_ticks(ax)
    fig.tight_layout()
    return fig


def _norm_pix_view(images: np.ndarray, cfg: MAEConfig) -> np.ndarray:
    """What a normalised-pixel target looks like: every patch scaled to zero mean and unit variance
    on its own (`MaskedAutoencoder.target` with ``norm_pix_loss``, applied to the images scaled to
    [0, 1]), then mapped to [0, 255] for display (uint8 (n, H, W, C) in and out)."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    t = reconstruction_target(x, cfg.patch_size, norm_pix=True)  # the model's own target
    x = unpatchify(t, cfg.patch_size, x.shape[1])
    x = ((x.clamp(-2.5, 2.5) + 2.5) / 5 * 255).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


@book_style()
def plot_target_reconstructions(runs: dict, max_images: int = 4):
    """Reconstructions of the same images under the same mask by models trained with different
    targets (``runs``: label -> RunDir, e.g. pixels / normalised pixels), from each run's last
    snapshot. Columns: masked input, each model's prediction with the visible patches pasted back,
    the original, and the normalised-pixel target itself. A normalised-pixel prediction is mapped
    back to pixels with the original patch's mean and variance, as He et al. do for their figures."""
    snaps = {label: _last_snapshot(run) for label, run in runs.items()}
    first_run = next(iter(runs.values()))
    first = next(iter(snaps.values()))
    model_cfg = MAEConfig(**first_run.read("config.json")["model"])
    n = min(max_images, len(first["original"]))
    masked = first["original"].copy()
    masked[first["mask"].astype(bool)] = 128  # masked patches grey (from the stored mask)
    cols = [("masked input", masked)]
    cols += [(f"{label}\n(epoch {s['epoch'] + 1})", s["pasted"]) for label, s in snaps.items()]
    cols += [("original", first["original"]),
             ("normalised-pixel\ntarget", _norm_pix_view(first["original"], model_cfg))]
    fig, axes = plt.subplots(n, len(cols), figsize=(1.45 * len(cols), 1.45 * n + 0.5), squeeze=False)
    for j, (title, images) in enumerate(cols):
        for i in range(n):
            axes[i, j].imshow(images[i], interpolation="nearest")
            _no_ticks(axes[i, j])
        axes[0, j].set_title(title, fontsize=8)
    fig.tight_layout()
    return fig


def snapshot_originals(run: RunDir) -> np.ndarray:
    """The original images (uint8 (n, H, W, C)) of a run's last reconstruction snapshot."""
    return _last_snapshot(run)["original"]
