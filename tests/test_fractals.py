"""Fractal generators: determinism, per-sample seeding, labels, shapes, the filling-rate test, and
agreement of the fast kernels with the straightforward reference and the torch path."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mae_study.data.fractals import fractal_maker, fractal_stream, load_fractal, search_categories
from mae_study.data.fractals import fractaldb, loaders, single_instance
from mae_study.data.fractals import torch_ifs
from mae_study.data.fractals.fractaldb import (FractalDBConfig, category_instances, filling_rate,
                                               published_categories, weight_patterns)
from mae_study.data.fractals.ifs import (fixed_point, iterate, make_system, max_singular_value,
                                         sample_sigma_system, sample_singular_values)
from mae_study.data.fractals.multi_instance import MultiInstanceConfig, generate_multi_instance
from mae_study.data.fractals.render import filling_rates, render_counts, render_patch
from mae_study.data.fractals.seeding import balanced_labels, patch_masks, uniforms
from mae_study.data.fractals.single_instance import SingleInstanceConfig, generate_single_instance, sample_systems

# The straightforward reference generators are not part of the study: they live with the benchmark.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import fractal_reference as ref  # noqa: E402

NAMES = ["fractaldb", "fractal_single", "fractal_multi"]


@pytest.fixture(autouse=True)
def _tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MAE_STUDY_CACHE", str(tmp_path / "cache"))


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_per_seed_and_per_sample(name):
    make = fractal_maker(name, "train", 32, seed=0, num_classes=5)
    images, labels = make(np.arange(6))
    again, again_labels = fractal_maker(name, "train", 32, seed=0, num_classes=5)(np.arange(6))
    assert np.array_equal(images, again) and np.array_equal(labels, again_labels)
    other, _ = fractal_maker(name, "train", 32, seed=1, num_classes=5)(np.arange(6))
    assert not np.array_equal(images, other)
    test_images, _ = fractal_maker(name, "test", 32, seed=0, num_classes=5)(np.arange(6))
    assert not np.array_equal(images, test_images)  # splits use different streams
    alone, alone_label = make(np.array([4]))  # sample 4 alone equals sample 4 in a batch
    assert np.array_equal(alone[0], images[4]) and np.array_equal(alone_label[0], labels[4])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("size", [24, 40, 96])
def test_shapes_and_dtypes(name, size):
    data = load_fractal(name, "train", size, seed=0, num_samples=4, num_classes=3, cache=False)
    assert data.images.shape == (4, 3, size, size) and data.images.dtype == torch.uint8
    assert data.num_classes == 3 and len(data.class_names) == 3
    if name == "fractal_multi":
        assert data.labels.shape == (4, 3) and data.labels.dtype == torch.float32
    else:
        assert data.labels.shape == (4,) and data.labels.dtype == torch.int64


# what draws the fractal of each generator (Multi-Instance's cache is drawn by Single-Instance's renderer)
DRAWERS = {"fractaldb": (fractaldb, "render_patch"), "fractal_single": (single_instance, "render_counts"),
           "fractal_multi": (single_instance, "render_counts")}


@pytest.mark.parametrize("name", NAMES)
def test_every_image_shows_its_fractal(name, monkeypatch):
    drawn = load_fractal(name, "train", 32, seed=0, num_samples=6, num_classes=3, cache=False).images
    module, attr = DRAWERS[name]
    draw = getattr(module, attr)
    monkeypatch.setattr(module, attr, lambda *args, **kwargs: np.zeros_like(draw(*args, **kwargs)))
    blank = load_fractal(name, "train", 32, seed=0, num_samples=6, num_classes=3, cache=False).images
    assert (drawn != blank).flatten(1).any(1).all()  # background (or black) alone differs in every image


def test_bad_name_or_split_raises():
    with pytest.raises(ValueError, match="name=.*fractal_multi"):
        load_fractal("mandelbrot", "train", 32, 0)
    with pytest.raises(ValueError, match="split=.*'test'.*'train'"):
        load_fractal("fractaldb", "validation", 32, 0)


@pytest.mark.parametrize("name,kwargs,message", [
    ("fractaldb", dict(image_size=2), r"image_size=2; allowed for 'fractaldb': an int >= 3"),
    ("fractal_single", dict(image_size=0), r"image_size=0; allowed for 'fractal_single': an int >= 1"),
    ("fractal_multi", dict(seed=-1), r"seed=-1; allowed: an int >= 0"),
    ("fractaldb", dict(num_samples=0), r"num_samples=0; allowed: an int >= 1"),
    ("fractaldb", dict(num_classes=0), r"num_classes=0; allowed for 'fractaldb': an int from 1 to 1000"),
    ("fractaldb", dict(num_classes=1001), r"num_classes=1001; allowed for 'fractaldb': an int from 1 to 1000"),
    ("fractal_single", dict(num_classes=0), r"num_classes=0; allowed for 'fractal_single': an int >= 1"),
    ("fractal_multi", dict(num_classes=2.0), r"num_classes=2.0; allowed for 'fractal_multi': an int >= 1"),
])
def test_bad_arguments_raise_clearly(name, kwargs, message):
    args = {"split": "train", "image_size": 32, "seed": 0, "num_samples": 4, "num_classes": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        load_fractal(name, **args, cache=False)
    if "num_samples" not in kwargs:  # the makers check the same
        with pytest.raises(ValueError, match=message):
            fractal_maker(name, args["split"], args["image_size"], args["seed"], args["num_classes"])


def test_smallest_fractaldb_images_and_too_small_patch():
    images, _ = fractal_maker("fractaldb", "train", 3, seed=0, num_classes=2)(np.arange(4))
    assert images.shape == (4, 3, 3, 3) and images.any()
    points = iterate(published_categories(1), np.array([1], dtype=np.uint64), 100)
    for size in (1, 2):  # a 3x3 patch with a 1-pixel border does not fit: it used to write outside the image
        with pytest.raises(ValueError, match=f"size={size} with pad=1: allowed size >= 2 \\* pad \\+ 1 = 3"):
            render_patch(points, np.array([1], dtype=np.uint64), size, 1)
    with pytest.raises(ValueError, match="pad=0; allowed: pad >= 1"):
        render_patch(points, np.array([1], dtype=np.uint64), 8, 0)


def test_balanced_labels_depend_on_index_only():
    labels = balanced_labels(np.arange(30), 10, (0, 1))
    assert all(sorted(labels[b:b + 10]) == list(range(10)) for b in range(0, 30, 10))
    assert np.array_equal(balanced_labels(np.array([17, 3]), 10, (0, 1)), labels[[17, 3]])


def test_single_instance_label_is_the_system_shown():
    # with no augmentation but the patch, an image's pixels match its own class's prototype best
    systems = sample_systems(4, seed=3)
    plain = SingleInstanceConfig(32, jitter=(1.0, 1.0), window_scale=(1.0, 1.0), window_shift=0.0, flip_p=0.0,
                                 blur_p=0.0, background=False)
    make = fractal_maker("fractal_single", "train", 32, seed=3, num_classes=4)
    labels = make(np.arange(12))[1]
    shown = generate_single_instance(systems, labels, make.key, np.arange(12), plain).max(1) > 0  # (B, S, S)
    protos = generate_single_instance(systems, np.arange(4), (9, 9), np.arange(4), plain).max(1) > 0
    iou = (shown[:, None] & protos[None]).sum((2, 3)) / (shown[:, None] | protos[None]).sum((2, 3))
    assert np.array_equal(iou.argmax(1), labels)


def test_multi_instance_targets_match_what_was_pasted():
    # class 1's cached fractals are solid squares, the others empty: an image differs from its
    # background exactly when its target for class 1 is on
    config = MultiInstanceConfig(32, cache_per_class=2)
    cache_labels = np.repeat(np.arange(3), 2)
    cache = np.zeros((6, 16, 16), dtype=np.float32)
    key, idx = (0, 1, 0), np.arange(40)
    images, targets = generate_multi_instance(cache, cache_labels, 3, key, idx, config)
    cache[cache_labels == 1] = 1.0
    with_squares, targets_again = generate_multi_instance(cache, cache_labels, 3, key, idx, config)
    assert np.array_equal(targets, targets_again)
    positives = targets.sum(1)
    assert positives.min() >= 1 and positives.max() <= 5
    changed = (with_squares != images).any(axis=(1, 2, 3))
    assert np.array_equal(changed, targets[:, 1] == 1) and changed.any() and not changed.all()


def test_sigma_systems_meet_the_constraints():
    rng = np.random.default_rng(0)
    svs = sample_singular_values(rng, 3, 4.3)
    assert np.all((svs[:, 0] >= svs[:, 1]) & (svs[:, 0] <= 1) & (svs[:, 1] >= 0))
    assert np.isclose((svs[:, 0] + 2 * svs[:, 1]).sum(), 4.3)
    system = sample_sigma_system(rng)
    assert 2 <= len(system) <= 4 and np.isclose(system[:, 6].sum(), 1.0)
    assert max(max_singular_value(*m[:4]) for m in system) <= 1 + 1e-9
    a, b, c, d, e, f = system[0, :6]
    x, y = fixed_point(system)
    assert np.allclose([a * x + b * y + e, c * x + d * y + f], [x, y])


def test_filling_rate_accepts_published_and_rejects_degenerate():
    dense = published_categories(1)[0]  # FractalDB-1k category 0: rate 0.22 at the paper's settings
    collapsing = make_system(np.array([[1e-4, 0, 0, 1e-4, 0.5, 0.5], [1e-4, 0, 0, 1e-4, -0.5, 0.3],
                                       [1e-4, 0, 0, 1e-4, 0.1, -0.7]]))  # near-zero determinants
    rates = filling_rate([dense, collapsing], np.array([1, 2], dtype=np.uint64))
    assert rates[0] >= 0.2 and rates[1] < 0.01


def test_search_finds_categories_deterministically():
    kwargs = dict(seed=5, size=128, num_points=6_250, batch_size=32)  # 100k points at 512 px, scaled
    cats, rates = search_categories(2, **kwargs)
    cats_again, _ = search_categories(2, **kwargs, progress=False)
    assert len(cats) == 2 and np.all(rates >= 0.2)
    assert all(np.array_equal(a, b) for a, b in zip(cats, cats_again))


def test_fast_chaos_game_equals_reference_bitwise():
    system, seed, n = published_categories(1)[0], np.uint64(7), 4_000
    fast = iterate([system], np.array([seed]), n, num_chains=1, burn_in=0)[0]  # (P, 2)
    slow = np.empty((n + 1, 2))
    ref.iterate_chain(system[:, :6], ref.cumulative(system), np.zeros(2), uniforms(seed, 0, n), slow)
    assert np.array_equal(fast, slow[1:].astype(np.float32))  # the reference keeps its start point


def test_fast_renderers_equal_reference_and_torch():
    points = iterate(published_categories(2), np.array([3, 4], dtype=np.uint64), 3_000)  # (2, P, 2)
    seeds = np.array([11, 12], dtype=np.uint64)
    fast = render_patch(points, seeds, 40, 1)
    masks = np.stack([patch_masks(s, points.shape[1]) for s in seeds])
    for s in range(2):
        slow = np.zeros((40, 40), dtype=np.uint8)
        ref.render_patch_loop(points[s].astype(np.float64), masks[s], 40, 1, 127, slow)
        assert np.array_equal(fast[s], slow)
    on_torch = torch_ifs.render_patch_torch(torch.from_numpy(points), 40, 1, masks=torch.from_numpy(masks))
    assert np.array_equal(on_torch.numpy(), fast)

    rng = np.random.default_rng(0)
    scales, shifts = rng.uniform(0.5, 2, (2, 2)), rng.uniform(-0.2, 0.2, (2, 2))
    patches = (rng.random((2, 9)) < 0.5).astype(np.float32)
    for style in ("original", "study"):
        gray = render_counts(points, scales, shifts, patches, 40, style)
        for s in range(2):
            slow = np.zeros((40, 40), dtype=np.float32)
            pts = points[s].astype(np.float64)
            ref.render_counts_loop(pts, ref.window_of(pts, scales[s], shifts[s]), patches[s].reshape(3, 3), 40, slow,
                                   style == "original")
            assert np.array_equal(gray[s], slow / slow.max())
        on_torch = torch_ifs.render_counts_torch(torch.from_numpy(points), torch.from_numpy(scales),
                                                 torch.from_numpy(shifts), torch.from_numpy(patches), 40, style)
        assert torch.allclose(on_torch, torch.from_numpy(gray))
    assert not np.array_equal(render_counts(points, scales, shifts, patches, 40, "original"),
                              render_counts(points, scales, shifts, patches, 40, "study"))


def test_many_chains_fill_like_one_chain():
    # same system, different algorithms (32 chains with burn-in; one chain; torch): same occupancy
    cats = published_categories(3)
    fast = filling_rate(cats, np.arange(3, dtype=np.uint64), size=256, num_points=25_000, pad=3)
    slow = [ref.filling_rate_reference(c, np.random.default_rng(i), 256, 25_000, 3) for i, c in enumerate(cats)]
    points = torch_ifs.iterate_torch(cats, 25_000, generator=torch.Generator().manual_seed(0))
    on_torch = filling_rates(points.numpy(), 256, 3)
    assert np.allclose(fast, slow, atol=0.02) and np.allclose(on_torch, slow, atol=0.02)


def test_diverging_chains_are_dropped():
    expanding = make_system(np.array([[2.0, 0, 0, 2.0, 1, 1], [-2.0, 0, 0, 2.0, 0, 1]]))

    def first_dropped(drop_before):  # (chains,) first step that is NaN
        points = iterate([expanding], np.array([1], dtype=np.uint64), 6_400, num_chains=32, burn_in=0,
                         drop_before=drop_before)
        finite = np.isfinite(points[0]).all(1).reshape(-1, 32)  # (steps, chains)
        assert finite[0].all() and not finite[-1].any()  # 2^t overflows float32 near t = 128
        return (~finite).argmax(0)

    assert np.array_equal(first_dropped(100), first_dropped(0) - 100)  # as FractalDB: 100 before too


def test_fractaldb_instances_patterns_and_flips():
    patterns = weight_patterns()
    assert patterns.shape == (25, 6) and np.all(patterns[2] == 1)
    images = category_instances(published_categories(1)[0], FractalDBConfig(32))  # (25, 4, S, S)
    assert images.shape == (25, 4, 32, 32) and set(np.unique(images)) <= {0, 127}
    assert np.array_equal(images[:, 1], images[:, 0, ::-1])  # vertical
    assert np.array_equal(images[:, 2], images[:, 0, :, ::-1])  # horizontal
    assert np.array_equal(images[:, 3], images[:, 0, ::-1, ::-1])  # both
    assert not np.array_equal(images[0, 0], images[2, 0])


def test_cache_round_trip_and_stream(tmp_path, monkeypatch):
    first = load_fractal("fractal_single", "train", 32, seed=2, num_samples=8, num_classes=4)
    files = list((tmp_path / "cache" / "generated").glob("fractal_single-train-32px-*.pt"))
    assert len(files) == 1

    def no_generation(*args, **kwargs):
        raise AssertionError("generated again instead of read from the cache")

    with monkeypatch.context() as patch:
        patch.setattr(loaders, "generate_all", no_generation)
        second = load_fractal("fractal_single", "train", 32, seed=2, num_samples=8, num_classes=4)
        with pytest.raises(AssertionError, match="generated again"):  # another config is not in the cache
            load_fractal("fractal_single", "train", 32, seed=3, num_samples=8, num_classes=4)
    assert torch.equal(first.images, second.images) and torch.equal(first.labels, second.labels)
    assert first.info == second.info and first.mean == second.mean
    stream = fractal_stream("fractal_single", 32, seed=2, num_samples=8, num_classes=4)
    image, label = stream[5]
    assert torch.equal(image, first.images[5]) and label == first.labels[5]
    batch = next(iter(torch.utils.data.DataLoader(stream, batch_size=4)))
    assert torch.equal(batch[0], first.images[:4])
    assert not torch.equal(fractal_stream("fractal_single", 32, 2, 8, 4, epoch=1)[5][0], image)
