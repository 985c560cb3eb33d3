"""How fast are the fractal generators? The fast CPU path, the torch path and the straightforward
reference, side by side at 32 and 96 px.

- fast (numba): batched over images (``prange``) and, within an image, over 32 chains; points scale
  with the image area, about 2 per pixel (2,048 at 32 px, 18,432 at 96 px). Timed with all threads
  and (full run) with one thread, so the speed per core is measured rather than divided out.
- torch: the chaos game for a batch of systems x 256 chains in lock step (``searchsorted`` map choice,
  ``gather`` coefficients), rendered by ``bincount`` + grouped convolution (Anderson & Farrell) or
  ``scatter_reduce`` (FractalDB); ``--device cuda`` on a GPU. Gray fractals only (no colouring).
  On the CPU torch runs one thread and few images: it is there to show the path works, not to win.
- reference (``benchmarks/fractal_reference.py``): one chain, one point at a time, as the original
  code. FractalDB's is plain Python with the same number of points as the fast path, so the ratio is
  the implementation's alone. The Single-/Multi-Instance references run their per-point loops under
  numba with 100,000 points at every size and the rest in numpy per image, as Anderson & Farrell's
  code does: they are the measured "original code" baseline (FRACTALS.md quotes 91-180 images/s at
  96 px on one core for Single-Instance, 236-303 for Multi-Instance).
Multi-Instance times the composition of images from a prebuilt cache of rendered fractals (the
cache's build time is reported apart), in both the fast path and the reference.

Writes ``benchmarks/results/fractals_<host or device>.json`` (``..._quick.json`` for ``--quick``, so a
quick run never replaces a full one), with the load average, as the machine may be shared, and prints
a table. Well under a minute on 2 cores (its wall time is recorded in the file); longer when the
machine is busy.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import time
from pathlib import Path

import numba
import numpy as np
import torch

from mae_study.data.fractals import torch_ifs
from mae_study.data.fractals.fractaldb import default_pad, instance_system, published_categories
from mae_study.data.fractals.fractaldb import filling_rate
from mae_study.data.fractals.ifs import fixed_point, num_points, sample_fractaldb_system
from mae_study.data.fractals.loaders import fractal_maker
from mae_study.data.fractals.single_instance import sample_systems

import fractal_reference as ref  # beside this script (python puts the script's folder on sys.path)

ORIGINAL = {  # images/s of the original code on one core of this kind of machine (FRACTALS.md)
    "fractal_single": {"32": [98, 145], "96": [91, 180]},
    "fractal_multi": {"32": [264, 279], "96": [236, 303]},
    "fractaldb_render": {"362": [0.6, 0.7]},
}


def rate(make, count: int, repeats: int = 2, sync=lambda: None) -> float:
    """Best images/s of ``repeats`` timed calls of ``make(count)``, after a small warm-up call."""
    make(min(count, 4))
    sync()
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        make(count)
        sync()
        best = min(best, time.perf_counter() - start)
    return count / best


def fast_rates(name: str, size: int, count: int, threads: list[int]) -> dict:
    """Images/s of the full generator (``fractal_maker``) at each thread count."""
    start = time.perf_counter()
    maker = fractal_maker(name, "train", size, seed=0, num_classes=100)
    out = {"setup_s": time.perf_counter() - start}  # Multi-Instance: building its cache of 800 fractals
    for n in threads:
        numba.set_num_threads(n)
        out[f"{n}_threads"] = rate(lambda k: maker(np.arange(k)), count)
    numba.set_num_threads(max(threads))
    return out


def reference_rate(name: str, size: int, count: int) -> float:
    """Images/s of the straightforward implementation, one image at a time, on one core."""
    numba.set_num_threads(1)
    if name == "fractaldb":
        cats = published_categories(count)
        n = num_points(size, 2.0)
        make = lambda k: [ref.fractaldb_reference(instance_system(c, 2), size, n, np.random.default_rng(i),
                                                  default_pad(size)) for i, c in enumerate(cats[:k])]
    elif name == "fractal_single":
        systems = sample_systems(100, 0)
        make = lambda k: [ref.single_instance_reference(systems[i % 100], size, np.random.default_rng(i))
                          for i in range(k)]
    else:
        maker = fractal_maker("fractal_multi", "train", size, seed=0, num_classes=100)
        cache = list(maker.cache)
        make = lambda k: [ref.multi_instance_reference(cache, maker.cache_labels, 100, size,
                                                       np.random.default_rng(i)) for i in range(k)]
    result = rate(make, count, repeats=1)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    return result


def torch_rates(size: int, count: int, device: str) -> dict:
    """Images/s of the torch path's gray fractals: FractalDB (patch) and Anderson & Farrell (counts)."""
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    gen = torch.Generator(device).manual_seed(0)
    n = num_points(size, 2.0)
    cats = [instance_system(c, 2) for c in published_categories(100)]
    systems = sample_systems(100, 0)

    def fractaldb(k):
        points = torch_ifs.iterate_torch([cats[i % 100] for i in range(k)], n, generator=gen, device=device)
        return torch_ifs.render_patch_torch(points, size, default_pad(size), generator=gen)

    def single(k):
        chosen = [systems[i % 100] for i in range(k)]
        points = torch_ifs.iterate_torch(chosen, n, np.stack([fixed_point(s) for s in chosen]), generator=gen,
                                         device=device)
        patches = (torch.rand(k, 9, generator=gen, device=device) < 0.5).float()
        ones, zeros = torch.ones(k, 2, device=device), torch.zeros(k, 2, device=device)
        return torch_ifs.render_counts_torch(points, ones, zeros, patches, size)

    repeats = 2 if device.startswith("cuda") else 1
    return {"fractaldb_gray": rate(fractaldb, count, repeats, sync),
            "single_gray": rate(single, count, repeats, sync)}


def search_rates(count: int, ref_count: int) -> dict:
    """Candidates/s of FractalDB's category search (filling rate, 100,000 points at 512 px)."""
    systems = [sample_fractaldb_system(np.random.default_rng([0, j])) for j in range(count)]
    fast = rate(lambda k: filling_rate(systems[:k], np.arange(k, dtype=np.uint64)), count)
    numba.set_num_threads(1)
    slow = rate(lambda k: [ref.filling_rate_reference(s, np.random.default_rng(j))
                           for j, s in enumerate(systems[:k])], ref_count, repeats=1)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    return {"fast": fast, "reference": slow, "speedup": fast / slow}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer images, all threads only")
    parser.add_argument("--device", default="cpu", help="torch path device: cpu or cuda")
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 96])
    args = parser.parse_args()
    # torch on the CPU gets one thread: with two, its OpenMP pool stalls whenever the machine is shared
    torch.set_num_threads(1)
    all_threads = numba.config.NUMBA_NUM_THREADS
    threads = [all_threads] if args.quick else sorted({1, all_threads})
    scale = 1 if args.quick else 2
    started = time.perf_counter()
    results = {"host": socket.gethostname(), "cpu_threads": all_threads, "device": args.device,
               "load_average_at_start": os.getloadavg(),
               "quick": args.quick, "torch": torch.__version__, "numba": numba.__version__,
               "python": platform.python_version(), "original_code_images_per_s": ORIGINAL, "sizes": {}}
    for size in args.sizes:
        big = size >= 64
        count = (256 if big else 1024) * scale
        row = {}
        for name in ("fractaldb", "fractal_single", "fractal_multi"):
            fast = fast_rates(name, size, count, threads)
            ref_count = {"fractaldb": 2 if big else 8, "fractal_single": 16, "fractal_multi": 48}[name] * scale
            slow = reference_rate(name, size, ref_count)
            best_1 = fast.get("1_threads", fast[f"{all_threads}_threads"] / all_threads)
            row[name] = {"fast": fast, "reference": slow,
                         "speedup_all_threads": fast[f"{all_threads}_threads"] / slow,
                         "speedup_per_core": best_1 / slow}
            original = ORIGINAL.get(name, {}).get(str(size))
            vs_original = ""
            if original:  # per core, against the original code's range quoted in FRACTALS.md
                row[name]["per_core_vs_original"] = [best_1 / original[1], best_1 / original[0]]
                vs_original = f", x{best_1 / original[1]:.1f}-{best_1 / original[0]:.1f} the original's"
            print(f"{size:3d} px {name:15s} fast {fast[f'{all_threads}_threads']:7.0f}/s "
                  f"({best_1:5.0f}/s/core)  reference {slow:6.1f}/s  "
                  f"x{row[name]['speedup_all_threads']:.0f} "
                  f"(x{row[name]['speedup_per_core']:.0f} per core{vs_original})",
                  flush=True)
        on_gpu = args.device.startswith("cuda")
        torch_count = (256 if big else 1024) * scale if on_gpu else (16 if big else 64)
        row["torch"] = torch_rates(size, torch_count, args.device)
        print(f"{size:3d} px torch ({args.device}): FractalDB gray {row['torch']['fractaldb_gray']:.0f}/s, "
              f"Single-Instance gray {row['torch']['single_gray']:.0f}/s", flush=True)
        results["sizes"][str(size)] = row
    results["search"] = search_rates(64 * scale, 1 * scale)
    print(f"FractalDB search: fast {results['search']['fast']:.0f} candidates/s, reference "
          f"{results['search']['reference']:.2f}/s, x{results['search']['speedup']:.0f}")
    results["load_average_at_end"] = os.getloadavg()
    results["wall_s"] = time.perf_counter() - started
    tag = socket.gethostname() if args.device == "cpu" else args.device.replace(":", "")
    suffix = "_quick" if args.quick else ""
    out = Path(__file__).parent / "results" / f"fractals_{tag}{suffix}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
