import os

import pytest
import torch

os.environ.setdefault("MAE_STUDY_PROFILE", "ci")
torch.set_num_threads(2)


@pytest.fixture
def results_dir(tmp_path, monkeypatch):
    """Runs in a test write into a temporary results root."""
    monkeypatch.setenv("MAE_STUDY_RESULTS", str(tmp_path / "results"))
    return tmp_path / "results"


@pytest.fixture
def tiny_images():
    from mae_study.data.base import ImageTensorDataset
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (48, 3, 16, 16), dtype=torch.uint8, generator=g)
    labels = torch.arange(48) % 4
    return ImageTensorDataset(images, labels, 4, "tiny", "train")
