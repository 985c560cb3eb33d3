"""Real data loaders (STL10, CIFAR-10/100, digits) and the ``load_dataset`` interface.

The STL10 and CIFAR tests write tiny files in the real on-disk formats into a temporary data root and
read them through the real torchvision classes. torchvision checks every file against the MD5 of the
official release, which tiny files cannot match, so the ``existence_only_checks`` fixture reduces
that one check to "the file exists" (torchvision's own ``check_integrity`` with ``md5=None``) for the
loading tests only. All parsing (column-major STL10 binaries, CIFAR pickles, label shifts) is
torchvision's; ``test_checksum_mismatch_is_clear_error`` keeps the real MD5 check and shows that the
production path rejects files that are not the official ones.
"""
from __future__ import annotations

import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from mae_study.data import DATASETS, DatasetNotFoundError, ImageTensorDataset, load_dataset
from mae_study.data.digits import NUM_IMAGES, digits_split_indices

N_STL = {"train": 6, "test": 4, "unlabelled": 8}
N_CIFAR = {"train": 10, "test": 4}  # CIFAR-10 train: 5 batches of 2


# ----------------------------------------------------------------------------- writers (real formats)

def stl10_bytes(images: np.ndarray) -> bytes:
    """(N, 3, 96, 96) uint8 -> STL10 binary: per image, per channel, the plane in column-major order."""
    return np.ascontiguousarray(images.transpose(0, 1, 3, 2)).tobytes()


def cifar_rows(images: np.ndarray) -> np.ndarray:
    """(N, 3, 32, 32) uint8 -> CIFAR rows (N, 3072): 1024 red, 1024 green, 1024 blue, each row-major."""
    return images.reshape(len(images), 3072)


def write_stl10(root: Path, rng: np.random.Generator) -> dict:
    """stl10_binary/: {train,test,unlabeled}_X.bin, {train,test}_y.bin, class_names.txt, fold_indices.txt."""
    folder = root / "stl10_binary"
    folder.mkdir(parents=True)
    written = {}
    for split, stem in [("train", "train"), ("test", "test"), ("unlabelled", "unlabeled")]:
        imgs = rng.integers(0, 256, (N_STL[split], 3, 96, 96), dtype=np.uint8)
        labels = rng.integers(0, 10, N_STL[split]).astype(np.uint8)
        (folder / f"{stem}_X.bin").write_bytes(stl10_bytes(imgs))
        if split != "unlabelled":
            (folder / f"{stem}_y.bin").write_bytes((labels + 1).tobytes())  # 1..10 in the file
        written[split] = (imgs, labels)
    names = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]
    (folder / "class_names.txt").write_text("\n".join(names) + "\n")
    (folder / "fold_indices.txt").write_text("\n".join(" ".join(map(str, range(i % 2, 6, 2)))
                                                        for i in range(10)) + "\n")
    return written


def _pickle(path: Path, obj: dict) -> None:
    path.write_bytes(pickle.dumps(obj, protocol=2))  # the originals are protocol-2 pickles


def _cifar10_files(folder: Path, written: dict) -> None:
    """cifar-10-batches-py/: data_batch_1..5 (dicts with "data" rows and "labels"), test_batch, batches.meta."""
    imgs, labels = written["train"]
    for b in range(5):
        sl = slice(2 * b, 2 * b + 2)
        _pickle(folder / f"data_batch_{b + 1}",
                {"batch_label": f"training batch {b + 1} of 5", "labels": labels[sl].tolist(),
                 "data": cifar_rows(imgs[sl])})
    imgs, labels = written["test"]
    _pickle(folder / "test_batch",
            {"batch_label": "testing batch 1 of 1", "labels": labels.tolist(), "data": cifar_rows(imgs)})
    _pickle(folder / "batches.meta",
            {"label_names": [f"class{i}" for i in range(10)], "num_cases_per_batch": 10000, "num_vis": 3072})


def _cifar100_files(folder: Path, written: dict) -> None:
    """cifar-100-python/: train and test (dicts with "data", "fine_labels", "coarse_labels"), meta."""
    for split in ("train", "test"):
        imgs, labels = written[split]
        _pickle(folder / split, {"fine_labels": labels.tolist(), "coarse_labels": (labels // 5).tolist(),
                                 "data": cifar_rows(imgs)})
    _pickle(folder / "meta", {"fine_label_names": [f"fine{i}" for i in range(100)],
                              "coarse_label_names": [f"coarse{i}" for i in range(20)]})


def write_cifar(root: Path, rng: np.random.Generator, classes: int) -> dict:
    """Random images and labels for each split, written as CIFAR-10 or CIFAR-100 pickles."""
    written = {s: (rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8), rng.integers(0, classes, n))
               for s, n in N_CIFAR.items()}
    folder = root / ("cifar-10-batches-py" if classes == 10 else "cifar-100-python")
    folder.mkdir(parents=True)
    (_cifar10_files if classes == 10 else _cifar100_files)(folder, written)
    return written


# ----------------------------------------------------------------------------- fixtures

@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    """An empty data root; downloads off so no test ever reaches for the network."""
    monkeypatch.setenv("MAE_STUDY_DATA_ROOT", str(tmp_path))
    monkeypatch.delenv("MAE_STUDY_DOWNLOAD", raising=False)
    return tmp_path


@pytest.fixture
def existence_only_checks(monkeypatch) -> None:
    """Reduce torchvision's MD5 check to an existence check (see the module docstring)."""
    from torchvision.datasets import cifar, stl10, utils

    def exists_only(fpath, md5=None, **_):
        return utils.check_integrity(fpath, None)

    monkeypatch.setattr(cifar, "check_integrity", exists_only)
    monkeypatch.setattr(stl10, "check_integrity", exists_only)


@pytest.fixture
def stl10(root, existence_only_checks):
    return write_stl10(root, np.random.default_rng(0))


@pytest.fixture(params=[10, 100], ids=["cifar10", "cifar100"])
def cifar(request, root, existence_only_checks):
    return f"cifar{request.param}", write_cifar(root, np.random.default_rng(1), request.param)


# ----------------------------------------------------------------------------- STL10

@pytest.mark.parametrize("split", ["train", "test", "unlabelled"])
def test_stl10_loads_exact_images_and_labels(stl10, split):
    ds = load_dataset("stl10", split)
    imgs, labels = stl10[split]
    assert isinstance(ds, ImageTensorDataset)
    assert ds.images.shape == (N_STL[split], 3, 96, 96) and ds.images.dtype == torch.uint8
    assert ds.images.is_contiguous()
    assert torch.equal(ds.images, torch.from_numpy(imgs))
    if split == "unlabelled":
        assert ds.num_classes == 0 and (ds.labels == -1).all()
    else:  # 1..10 in the file -> 0..9
        assert ds.num_classes == 10 and torch.equal(ds.labels, torch.from_numpy(labels.astype(np.int64)))
    assert ds.labels.dtype == torch.int64
    assert ds.class_names[0] == "airplane" and len(ds.mean) == 3


def test_stl10_pixel_lands_where_the_format_says(root, existence_only_checks):
    """Built byte by byte from the STL10 README ("column-major order, one channel at a time"):
    pixel (channel c, row r, column x) of image i is byte i*27648 + c*9216 + x*96 + r."""
    write_stl10(root, np.random.default_rng(0))
    buf = np.zeros(N_STL["train"] * 3 * 96 * 96, dtype=np.uint8)
    buf[0 * 9216 + 0 * 96 + 0] = 255   # image 0: red at top-left (row 0, col 0)
    buf[1 * 9216 + 95 * 96 + 0] = 255  # image 0: green at top-right (row 0, col 95)
    buf[2 * 9216 + 0 * 96 + 95] = 255  # image 0: blue at bottom-left (row 95, col 0)
    (root / "stl10_binary" / "train_X.bin").write_bytes(buf.tobytes())
    img = load_dataset("stl10", "train").images[0]
    assert img[0, 0, 0] == 255 and img[1, 0, 95] == 255 and img[2, 95, 0] == 255
    assert int(img.sum()) == 3 * 255


def test_stl10_fold_argument(stl10):
    ds = load_dataset("stl10", "train", folds=1)  # fold line 1 is "1 3 5"
    assert torch.equal(ds.images, torch.from_numpy(stl10["train"][0][[1, 3, 5]]))


# ----------------------------------------------------------------------------- CIFAR

@pytest.mark.parametrize("split", ["train", "test"])
def test_cifar_loads_exact_images_and_labels(cifar, split):
    name, written = cifar
    ds = load_dataset(name, split)
    imgs, labels = written[split]
    assert ds.images.shape == (N_CIFAR[split], 3, 32, 32) and ds.images.dtype == torch.uint8
    assert ds.images.is_contiguous()
    assert torch.equal(ds.images, torch.from_numpy(imgs))  # NHWC -> NCHW, batches in order
    assert torch.equal(ds.labels, torch.from_numpy(labels.astype(np.int64)))
    assert ds.num_classes == (10 if name == "cifar10" else 100)
    assert len(ds.class_names) == ds.num_classes


def test_cifar_pixel_lands_where_the_format_says(root, existence_only_checks):
    """CIFAR row layout: pixel (channel c, row r, column x) is entry c*1024 + r*32 + x of the row."""
    write_cifar(root, np.random.default_rng(1), 10)
    rows = np.zeros((2, 3072), dtype=np.uint8)
    rows[0, 0 * 1024 + 0 * 32 + 0] = 255   # red, top-left
    rows[0, 1 * 1024 + 0 * 32 + 31] = 255  # green, top-right
    rows[0, 2 * 1024 + 31 * 32 + 0] = 255  # blue, bottom-left
    _pickle(root / "cifar-10-batches-py" / "data_batch_1", {"labels": [3, 4], "data": rows})
    img = load_dataset("cifar10", "train").images[0]
    assert img[0, 0, 0] == 255 and img[1, 0, 31] == 255 and img[2, 31, 0] == 255
    assert int(img.sum()) == 3 * 255


# ----------------------------------------------------------------------------- resize, num_samples

def test_resize_keeps_colours_and_dtype(root, existence_only_checks):
    write_stl10(root, np.random.default_rng(0))
    flat = np.zeros((N_STL["test"], 3, 96, 96), dtype=np.uint8)
    flat[:, 0], flat[:, 1], flat[:, 2] = 10, 100, 200
    (root / "stl10_binary" / "test_X.bin").write_bytes(stl10_bytes(flat))
    ds = load_dataset("stl10", "test", image_size=40)
    assert ds.images.shape == (N_STL["test"], 3, 40, 40) and ds.images.dtype == torch.uint8
    assert [ds.images[:, c].unique().tolist() for c in range(3)] == [[10], [100], [200]]
    assert ds.info["image_size"] == 40 and ds.info["native_size"] == 96


def test_num_samples_is_a_seeded_subset(stl10):
    full = load_dataset("stl10", "unlabelled").images
    a = load_dataset("stl10", "unlabelled", num_samples=3, seed=0)
    again = load_dataset("stl10", "unlabelled", num_samples=3, seed=0)
    other = load_dataset("stl10", "unlabelled", num_samples=3, seed=1)
    assert len(a) == 3 and torch.equal(a.images, again.images)
    assert not torch.equal(a.images, other.images)
    rows = {full[i].numpy().tobytes(): i for i in range(len(full))}
    assert all(img.numpy().tobytes() in rows for img in a.images)  # a subset of the real images
    with pytest.raises(ValueError, match="only 8"):
        load_dataset("stl10", "unlabelled", num_samples=9)


# ----------------------------------------------------------------------------- missing / corrupt

@pytest.mark.parametrize("name,folder,file,url", [
    ("stl10", "stl10_binary", "unlabeled_X.bin", "stl10_binary.tar.gz"),
    ("cifar10", "cifar-10-batches-py", "data_batch_1", "cifar-10-python.tar.gz"),
    ("cifar100", "cifar-100-python", "meta", "cifar-100-python.tar.gz"),
])
def test_missing_dataset_says_where_and_how(root, name, folder, file, url):
    with pytest.raises(DatasetNotFoundError) as err:
        load_dataset(name, "test")
    msg = str(err.value)
    assert isinstance(err.value, FileNotFoundError)
    for needle in [str(root), folder + "/", file, url, "MAE_STUDY_DOWNLOAD=1", "MAE_STUDY_DATA_ROOT"]:
        assert needle in msg, needle


def test_root_argument_overrides_env(root, tmp_path_factory, existence_only_checks):
    other = tmp_path_factory.mktemp("elsewhere")
    write_cifar(other, np.random.default_rng(1), 10)
    assert len(load_dataset("cifar10", "test", root=other)) == N_CIFAR["test"]
    with pytest.raises(DatasetNotFoundError, match=str(root)):
        load_dataset("cifar10", "test")


def _truncate(path: Path, n: int = 1000) -> None:
    path.write_bytes(path.read_bytes()[:-n])


@pytest.mark.parametrize("damage", ["stl10_images", "stl10_labels", "cifar_pickle"])
def test_corrupt_file_is_clear_error(root, existence_only_checks, damage):
    rng = np.random.default_rng(0)
    if damage.startswith("stl10"):
        write_stl10(root, rng)
        _truncate(root / "stl10_binary" / ("train_X.bin" if damage == "stl10_images" else "train_y.bin"), 1)
        name = "stl10"
    else:
        write_cifar(root, rng, 10)
        _truncate(root / "cifar-10-batches-py" / "data_batch_3")
        name = "cifar10"
    with pytest.raises(DatasetNotFoundError, match="not found or corrupt") as err:
        load_dataset(name, "train")
    assert str(root) in str(err.value) and "To get it" in str(err.value)


def test_checksum_mismatch_is_clear_error(root):
    """No patch here: torchvision's real MD5 check rejects files that are not the official release."""
    write_cifar(root, np.random.default_rng(1), 10)
    with pytest.raises(DatasetNotFoundError, match="all files present, but one failed a check") as err:
        load_dataset("cifar10", "train")
    assert "Dataset not found or corrupted" in str(err.value)


# ----------------------------------------------------------------------------- argument checks

@pytest.mark.parametrize("kwargs,needle", [
    (dict(name="imagenet", split="train"), "name='imagenet'"),
    (dict(name="cifar10", split="unlabelled"), "split='unlabelled'"),
    (dict(name="stl10", split="val"), "split='val'"),
    (dict(name="stl10", split="train", image_size=0), "image_size=0"),
    (dict(name="stl10", split="train", image_size=32.0), "image_size=32.0"),
    (dict(name="stl10", split="train", num_samples=-1), "num_samples=-1"),
    (dict(name="stl10", split="train", num_samples=True), "num_samples=True"),
    (dict(name="stl10", split="train", seed=-1), "seed=-1"),
    (dict(name="digits", split="train", seed=1.5), "seed=1.5"),
    (dict(name="fractaldb", split="train", image_size=2), "image_size=2"),
])
def test_bad_arguments_fail_before_loading(root, kwargs, needle):
    with pytest.raises(ValueError) as err:  # root is empty: a loader would raise FileNotFoundError
        load_dataset(**kwargs)
    assert needle in str(err.value) and "allowed" in str(err.value)


def test_registry_lists_every_name():
    assert set(DATASETS) == {"builtin", "stl10", "cifar10", "cifar100", "digits",
                             "fractaldb", "fractal_single", "fractal_multi"}
    assert DATASETS["stl10"].splits == ("unlabelled", "train", "test") and DATASETS["stl10"].image_size == 96


def test_builtin_and_fractals_are_dispatched(monkeypatch):
    """The generator modules are separate; a stand-in records what load_dataset forwards."""
    calls = []
    fake_builtin = types.SimpleNamespace(load_builtin=lambda **kw: calls.append(("builtin", kw)))
    fake_fractals = types.SimpleNamespace(load_fractal=lambda name, **kw: calls.append((name, kw)))
    monkeypatch.setitem(sys.modules, "mae_study.data.builtin", fake_builtin)
    monkeypatch.setitem(sys.modules, "mae_study.data.fractals", fake_fractals)
    load_dataset("builtin", "unlabelled", seed=3, num_samples=5)
    load_dataset("fractal_multi", "train", image_size=64)
    assert calls == [("builtin", dict(split="unlabelled", image_size=32, seed=3, num_samples=5)),
                     ("fractal_multi", dict(split="train", image_size=64, seed=0, num_samples=None))]


# ----------------------------------------------------------------------------- digits

def test_digits_shapes_and_classes():
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    assert train.images.shape == (1000, 3, 32, 32) and test.images.shape == (NUM_IMAGES - 1000, 3, 32, 32)
    assert train.images.dtype == torch.uint8 and train.num_classes == 10
    assert torch.equal(train.images[:, 0], train.images[:, 2])  # grey replicated
    assert train.images.max() == 255 and train.mean == test.mean
    # stratified: each class's share of the test split matches its share of the whole set (+-1 image)
    counts = torch.bincount(torch.cat([train.labels, test.labels]), minlength=10)
    expected = counts * len(test) / NUM_IMAGES
    assert (torch.bincount(test.labels, minlength=10) - expected).abs().max() <= 1


def test_digits_split_deterministic_disjoint_and_seeded():
    tr0, te0 = digits_split_indices(0)
    tr0b, _ = digits_split_indices(0)
    tr1, _ = digits_split_indices(1)
    assert np.array_equal(tr0, tr0b) and not np.array_equal(np.sort(tr0), np.sort(tr1))
    assert not set(tr0) & set(te0) and len(set(tr0) | set(te0)) == NUM_IMAGES
    a, b = load_dataset("digits", "test", seed=0), load_dataset("digits", "test", seed=0)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)


def test_digits_options():
    ds = load_dataset("digits", "train", image_size=16, in_chans=1, num_samples=50, seed=2)
    assert ds.images.shape == (50, 1, 16, 16) and len(ds.mean) == 1
