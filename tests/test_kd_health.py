"""The teacher health checks of the distillation chapter (`kd.health`): DINO's weighted k-NN,
attention distance of uniform attention, the first layer's distance on a real timm ViT, and the
verdict against the pixel probe and random features."""
import math

import pytest
import torch

from mae_study.chapters.kd.health import (backbone_health, first_layer_distance, health_verdict, knn_accuracy,
                                          uniform_distance)
from mae_study.data.base import ImageTensorDataset
from mae_study.models import ModelSpec, build_model
from mae_study.train.kd import attention_distance


def test_knn_recovers_separated_clusters_and_is_at_chance_on_noise():
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(4, 16, generator=g) * 5
    ya, yb = torch.arange(200) % 4, torch.arange(100) % 4
    xa, xb = centres[ya] + torch.randn(200, 16, generator=g), centres[yb] + torch.randn(100, 16, generator=g)
    assert knn_accuracy(xa, ya, xb, yb, 4) == 1.0
    noise = knn_accuracy(torch.randn(400, 16, generator=g), torch.arange(400) % 4, torch.randn(400, 16, generator=g),
                         torch.arange(400) % 4, 4)
    assert 0.1 < noise < 0.4


def test_knn_weights_votes_by_similarity():
    # three neighbours: two of class 1 nearly orthogonal, one of class 0 almost identical to the query
    train = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.05, 1.0]])
    labels = torch.tensor([0, 1, 1])
    query = torch.tensor([[1.0, 0.02]])
    assert knn_accuracy(train, labels, query, torch.tensor([0]), 2, k=3) == 1.0  # exp(s / 0.07) favours class 0


def test_uniform_distance_is_what_attention_distance_gives_uniform_maps():
    grid, patch = 8, 4
    uniform = torch.full((2, 3, grid * grid + 1, grid * grid + 1), 1.0 / (grid * grid + 1))
    assert uniform_distance(grid, patch) == pytest.approx(float(attention_distance(uniform, grid, patch).mean()))
    assert uniform_distance(grid, patch) == pytest.approx(16.55, abs=0.01)  # the value the issue quotes


def test_health_verdict_names_each_failed_check():
    good = {"knn_top1": 0.40, "knn_random_top1": 0.25, "first_layer_distance_px": 9.0, "uniform_distance_px": 16.55}
    assert health_verdict(good, pixel_probe=0.208) == (True, [])
    bad = {**good, "knn_top1": 0.12, "first_layer_distance_px": 16.56}
    ok, why = health_verdict(bad, pixel_probe=0.208)
    assert not ok and len(why) == 3
    assert "pixel probe" in why[0] and "random features" in why[1] and "16.56 px" in why[2]
    assert health_verdict(good, pixel_probe=None)[0]  # no probe measured: the other checks only


def test_backbone_health_on_a_small_vit():
    torch.manual_seed(0)
    spec = ModelSpec("vit_small_patch16_224", 1, 16, 4, kwargs={"embed_dim": 16, "depth": 1, "num_heads": 2})
    model, fresh = build_model(spec), build_model(spec)
    model.reset_classifier(0)
    fresh.reset_classifier(0)
    g = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (40, 3, 16, 16), dtype=torch.uint8, generator=g)
    labels = torch.arange(40) % 2
    data = ImageTensorDataset(images, labels, 2, "toy", "train", (0.5,) * 3, (0.25,) * 3, ("a", "b"), {})
    h = backbone_health(model, fresh, data, data, grid=4, patch_size=4, num_attention_images=8)
    assert set(h) == {"knn_top1", "knn_random_top1", "first_layer_distance_px", "uniform_distance_px"}
    assert 0 <= h["knn_top1"] <= 1 and h["uniform_distance_px"] == pytest.approx(uniform_distance(4, 4))
    assert 0 < h["first_layer_distance_px"] < 4 * 4 * math.sqrt(2)  # within the grid's diagonal
    assert first_layer_distance(model, data.images[:8].float() / 255, 4, 4) > 0


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models train fastest on one thread
    yield
    torch.set_num_threads(threads)


def test_a_dino_run_with_dinos_schedule_records_its_health_and_the_losss_two_parts(results_dir, one_thread):
    from mae_study.chapters.kd.teachers import KD_DINO_TEACHER, run_dino_teacher
    p = KD_DINO_TEACHER.resolve("ci", knn_train=32, knn_test=32, betas=[0.9, 0.999], weight_decay_end=0.4)
    run = run_dino_teacher(p, progress=False)
    health = run.read("final.json")["health"]
    assert set(health) == {"knn_top1", "knn_random_top1", "first_layer_distance_px", "uniform_distance_px"}
    assert health["uniform_distance_px"] == pytest.approx(uniform_distance(p["image_size"] // p["patch_size"],
                                                                            p["patch_size"]))
    steps = run.read("steps.csv")
    assert {"teacher_entropy", "kl"} <= set(steps.columns)
    assert (steps["kl"] > -1e-4).all() and (steps["teacher_entropy"] <= math.log(p["out_dim"]) + 1e-4).all()
    assert run.read("config.json")["train"]["betas"] == [0.9, 0.999]
    with pytest.raises(ValueError, match="knn_train and knn_test"):
        KD_DINO_TEACHER.resolve("ci", knn_train=0, knn_test=8)
