from .mae import MaskedAutoencoder, MAEConfig, MAEEncoder, MAEDecoder, MAEOutput, mae_config, MAE_CONFIGS
from .classifier import MAEClassifier, FINETUNE_MODES
from .adapt import apply_mode, load_backbone, num_trainable
from .zoo import ModelSpec, build_model
from .attention import attention_maps, forward_with_attention, recording_attention

__all__ = ["MaskedAutoencoder", "MAEConfig", "MAEEncoder", "MAEDecoder", "MAEOutput", "mae_config",
           "MAE_CONFIGS", "MAEClassifier", "FINETUNE_MODES", "ModelSpec", "build_model", "apply_mode",
           "load_backbone", "num_trainable", "attention_maps", "forward_with_attention",
           "recording_attention"]
