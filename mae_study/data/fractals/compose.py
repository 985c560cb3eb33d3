"""Compositing: fractals coloured and pasted on backgrounds, flips, blur, conversion to uint8.

One numba kernel per generator, parallel over the images of a batch. A fractal pixel is pasted
wherever its gray value is above zero, coloured ``(hue = g + offset, s, v)`` (see ``colour``).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from mae_study.data.fractals.colour import hsv_to_rgb


@njit(cache=True)
def _blur3(img, sigma):
    # (H, W, 3) float32 -> new (H, W, 3): separable 3x3 Gaussian, edges replicated
    w1 = np.exp(-0.5 / (sigma * sigma))
    k0, k1 = 1.0 / (1.0 + 2.0 * w1), w1 / (1.0 + 2.0 * w1)
    h, w = img.shape[0], img.shape[1]
    tmp = np.empty_like(img)
    out = np.empty_like(img)
    for r in range(h):
        for c in range(w):
            left, right = max(c - 1, 0), min(c + 1, w - 1)
            for ch in range(3):
                tmp[r, c, ch] = k1 * img[r, left, ch] + k0 * img[r, c, ch] + k1 * img[r, right, ch]
    for r in range(h):
        up, down = max(r - 1, 0), min(r + 1, h - 1)
        for c in range(w):
            for ch in range(3):
                out[r, c, ch] = k1 * tmp[up, c, ch] + k0 * tmp[r, c, ch] + k1 * tmp[down, c, ch]
    return out


@njit(cache=True)
def _finish(img, blur_sigma, out):
    # (H, W, 3) float in [0, 1] -> optional blur -> out (3, H, W) uint8
    if blur_sigma > 0:
        img = _blur3(img, blur_sigma)
    for r in range(img.shape[0]):
        for c in range(img.shape[1]):
            for ch in range(3):
                out[ch, r, c] = np.uint8(min(max(img[r, c, ch] * 255.0 + 0.5, 0.0), 255.0))


@njit(cache=True)
def _compose_single_one(gray, flip_t, flip_v, flip_h, hue, sat, val, img, blur_sigma, out):
    # one image: gray (S, S), background img (S, S, 3) overwritten -> out (3, S, S) uint8
    size = gray.shape[0]
    for r in range(size):
        for c in range(size):
            rr, cc = (c, r) if flip_t else (r, c)  # transpose, vertical, horizontal flip
            if flip_v:
                rr = size - 1 - rr
            if flip_h:
                cc = size - 1 - cc
            g = gray[rr, cc]
            if g > 0:
                img[r, c, 0], img[r, c, 1], img[r, c, 2] = hsv_to_rgb(g + hue, sat, val)
    _finish(img, blur_sigma, out)


@njit(cache=True, parallel=True)
def _compose_single_kernel(gray, flips, colours, backgrounds, blur_sigmas, out):
    # gray (B, S, S), flips (B, 3), colours (B, 3), backgrounds (B, S, S, 3) -> out (B, 3, S, S) uint8
    for b in prange(gray.shape[0]):
        _compose_single_one(gray[b], flips[b, 0], flips[b, 1], flips[b, 2], colours[b, 0], colours[b, 1],
                            colours[b, 2], backgrounds[b], blur_sigmas[b], out[b])


def compose_single(gray: np.ndarray, flips: np.ndarray, colours: np.ndarray, backgrounds: np.ndarray,
                   blur_sigmas: np.ndarray) -> np.ndarray:
    """One fractal per image, filling it.

    Args:
        gray: (B, S, S) float32 fractals in [0, 1].
        flips: (B, 3) bool: transpose, vertical flip, horizontal flip.
        colours: (B, 3) hue offset, saturation, value.
        backgrounds: (B, S, S, 3) float32 RGB, overwritten.
        blur_sigmas: (B,) Gaussian blur sigma, 0 for none.
    Returns:
        (B, 3, S, S) uint8.
    """
    out = np.empty((gray.shape[0], 3, gray.shape[1], gray.shape[2]), dtype=np.uint8)
    _compose_single_kernel(gray, flips, colours, backgrounds, blur_sigmas, out)
    return out


@njit(cache=True)
def _compose_multi_one(cache, items, flips, colours, boxes, img, blur_sigma, out):
    # one image: items (J,), flips (J, 3), colours (J, 3), boxes (J, 3), background img (S, S, 3)
    # overwritten -> out (3, S, S) uint8
    size, h = img.shape[0], cache.shape[1]
    for j in range(items.shape[0]):
        k = items[j]
        if k < 0:
            continue
        top, left, side = boxes[j, 0], boxes[j, 1], boxes[j, 2]
        hue, sat, val = colours[j, 0], colours[j, 1], colours[j, 2]
        for r in range(max(top, 0), min(top + side, size)):
            for c in range(max(left, 0), min(left + side, size)):
                sr, sc = ((r - top) * h) // side, ((c - left) * h) // side  # nearest-neighbour resize
                if flips[j, 0]:
                    sr, sc = sc, sr
                if flips[j, 1]:
                    sr = h - 1 - sr
                if flips[j, 2]:
                    sc = h - 1 - sc
                g = cache[k, sr, sc]
                if g > 0:
                    img[r, c, 0], img[r, c, 1], img[r, c, 2] = hsv_to_rgb(g + hue, sat, val)
    _finish(img, blur_sigma, out)


@njit(cache=True, parallel=True)
def _compose_multi_kernel(cache, items, flips, colours, boxes, backgrounds, blur_sigmas, out):
    # cache (K, h, h); items (B, J) cache indices (-1 unused); flips (B, J, 3); colours (B, J, 3);
    # boxes (B, J, 3) top, left, side; backgrounds (B, S, S, 3) -> out (B, 3, S, S) uint8
    for b in prange(items.shape[0]):
        _compose_multi_one(cache, items[b], flips[b], colours[b], boxes[b], backgrounds[b], blur_sigmas[b], out[b])


def compose_multi(cache: np.ndarray, items: np.ndarray, flips: np.ndarray, colours: np.ndarray, boxes: np.ndarray,
                  backgrounds: np.ndarray, blur_sigmas: np.ndarray) -> np.ndarray:
    """Several cached fractals per image, each resized to its box (nearest neighbour), flipped and
    coloured, pasted in order (later ones on top).

    Args:
        cache: (K, h, h) float32 gray fractals.
        items: (B, J) int64 cache indices, -1 for unused slots.
        flips: (B, J, 3) bool; colours: (B, J, 3); boxes: (B, J, 3) int64 top, left, side (may reach
            outside the image).
        backgrounds: (B, S, S, 3) float32, overwritten; blur_sigmas: (B,).
    Returns:
        (B, 3, S, S) uint8.
    """
    size = backgrounds.shape[1]
    out = np.empty((len(items), 3, size, size), dtype=np.uint8)
    _compose_multi_kernel(cache, items, flips, colours, boxes, backgrounds, blur_sigmas, out)
    return out
