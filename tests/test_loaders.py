"""Streamed data (a DataLoader over a data set generated on the fly) gives the batches of the
in-memory path, in the same order, and trains the same weights."""
import pytest
import torch
import torch.nn as nn
from torch.utils.data import Dataset

from mae_study.data.base import ImageTensorDataset
from mae_study.data.fractals.dataset import generate_all
from mae_study.data.fractals.loaders import fractal_stream
from mae_study.train.engine import TrainConfig, classification_loss, epoch_generator, evaluate, fit
from mae_study.train.loaders import StreamedData, batches, load_batches, stream_stats


class _Items(Dataset):
    """A map-style view of tensors, one (image, label) per item, counting the items it is asked for."""

    def __init__(self, images, labels):
        self.images, self.labels, self.asked = images, labels, 0

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        self.asked += 1
        return self.images[i], self.labels[i]


def _net(k=4):
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, k))


def test_stream_batches_equal_the_in_memory_batches(tiny_images):
    stream = StreamedData(_Items(tiny_images.images, tiny_images.labels), tiny_images.mean, tiny_images.std, 4)
    order = batches(tiny_images, 16, epoch_generator(3, 0), drop_last=True)
    assert all(torch.equal(a, b) for a, b in zip(order, batches(stream, 16, epoch_generator(3, 0), drop_last=True)))
    rows = slice(8, 16)  # a second process loads only its rows
    for (i1, x1, y1), (i2, x2, y2) in zip(load_batches(tiny_images, order, rows, None),
                                          load_batches(stream, order, rows, torch.Generator().manual_seed(0))):
        assert torch.equal(i1, i2) and torch.equal(x1, x2) and torch.equal(y1, y2) and len(i1) == 8
    assert stream.dataset.asked == 3 * 8


def test_fit_on_a_stream_equals_fit_in_memory(tiny_images):
    cfg = TrainConfig(num_epochs=2, batch_size=16, data_seed=5, aug_seed=6)
    memory = fit(_net(), classification_loss, tiny_images, cfg, progress=False)
    stream = StreamedData(_Items(tiny_images.images, tiny_images.labels), tiny_images.mean, tiny_images.std, 4)
    streamed = fit(_net(), classification_loss, stream, cfg, progress=False)
    assert [s["loss"] for s in memory["steps"]] == [s["loss"] for s in streamed["steps"]]
    assert evaluate(_net(), tiny_images, progress=False) == evaluate(_net(), stream, progress=False)


def test_fractal_stream_through_workers_is_the_cached_set_and_new_each_epoch():
    make = lambda epoch: fractal_stream("fractal_single", 16, 0, 32, num_classes=4, epoch=epoch)  # noqa: E731
    images, labels = generate_all(make(0).make, 32)
    memory = ImageTensorDataset(images, labels, 4, "fractal_single", "train", *stream_stats(make(0)))
    stream = StreamedData(make, memory.mean, memory.std, 4, num_workers=1)
    cfg = TrainConfig(num_epochs=1, batch_size=16)
    assert [s["loss"] for s in fit(_net(), classification_loss, memory, cfg, progress=False)["steps"]] == \
        [s["loss"] for s in fit(_net(), classification_loss, stream, cfg, progress=False)["steps"]]
    assert not torch.equal(stream.dataset_at(1)[0][0], stream.dataset_at(0)[0][0])  # epoch 1: new images
    assert stream.target_kind() == "class" and len(stream) == 32


def test_bad_stream_arguments():
    with pytest.raises(ValueError, match="num_workers must be"):
        StreamedData(_Items(torch.zeros(2, 3, 4, 4, dtype=torch.uint8), torch.zeros(2)), (0.5,) * 3, (0.2,) * 3, 1,
                     num_workers=-1)
