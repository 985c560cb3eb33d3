"""mae-study: the package behind the book. Models, masking and schedules, data, losses, the
training engine and reporting; the notebooks only call it."""
import warnings

# tqdm.auto falls back to text bars when ipywidgets is absent; its warning about that would
# otherwise land in every executed page of the book.
warnings.filterwarnings("ignore", message="IProgress not found")

from mae_study.masking import sample_mask, patchify, unpatchify
from mae_study.models import MaskedAutoencoder, MAEConfig, MAEClassifier, mae_config

__all__ = ["MaskedAutoencoder", "MAEConfig", "MAEClassifier", "mae_config", "sample_mask", "patchify",
           "unpatchify"]
