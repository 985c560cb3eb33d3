from .mae import MaskedAutoencoder, MAEConfig, MAEEncoder, MAEDecoder, MAEOutput, mae_config, MAE_CONFIGS
from .classifier import MAEClassifier, FINETUNE_MODES

__all__ = ["MaskedAutoencoder", "MAEConfig", "MAEEncoder", "MAEDecoder", "MAEOutput", "mae_config",
           "MAE_CONFIGS", "MAEClassifier", "FINETUNE_MODES"]
