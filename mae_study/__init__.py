"""mae-study: the package behind the book. Models, masking and schedules, data, losses, the
training engine and reporting; the notebooks only call it."""
from .models import MaskedAutoencoder, MAEConfig, MAEClassifier, mae_config
from .masking import sample_mask, patchify, unpatchify

__all__ = ["MaskedAutoencoder", "MAEConfig", "MAEClassifier", "mae_config", "sample_mask", "patchify",
           "unpatchify"]
