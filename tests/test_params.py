import pytest

from mae_study.runs.params import Experiment, notebook_params

EXP = Experiment("demo", {"ci": {"mask_ratio": 0.75, "num_epochs": 1, "method": "static", "schedule": None},
                          "cpu": {"mask_ratio": 0.75, "num_epochs": 10, "method": "static", "schedule": None}})


def test_profile_defaults_and_overrides():
    p = EXP.resolve("cpu", num_epochs=3, mask_ratio=None)
    assert p == {"mask_ratio": 0.75, "num_epochs": 3, "method": "static", "schedule": None, "profile": "cpu"}


def test_profile_from_environment(monkeypatch):
    monkeypatch.setenv("MAE_STUDY_PROFILE", "ci")
    assert EXP.resolve(None)["num_epochs"] == 1


def test_unknown_parameter_rejected():
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['mask_ration'\].*allowed"):
        EXP.resolve("cpu", mask_ration=0.9)


@pytest.mark.parametrize("profile", ["laptop", "CPU"])
def test_unknown_profile_rejected(profile):
    with pytest.raises(ValueError, match="profile must be one of"):
        EXP.resolve(profile)


def test_missing_profile_for_experiment():
    with pytest.raises(ValueError, match="has no 'gpu' profile"):
        EXP.resolve("gpu")


@pytest.mark.parametrize("kw", [{"num_epochs": 2.5}, {"num_epochs": "3"}, {"mask_ratio": "high"}, {"method": 1}])
def test_wrong_type_rejected(kw):
    with pytest.raises(ValueError, match="must be of type"):
        EXP.resolve("cpu", **kw)


def test_notebook_namespace_collection():
    import math
    before = {"math", "__name__"}
    ns = {"math": math, "__name__": "x", "profile": "ci", "mask_ratio": None, "num_epochs": 2, "_private": 1}
    assert notebook_params(EXP, ns, before)["num_epochs"] == 2
    ns["typo"] = 3
    with pytest.raises(ValueError, match="typo"):
        notebook_params(EXP, ns, before)
