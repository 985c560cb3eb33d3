from mae_study.models.adapt import apply_mode, load_backbone, num_trainable
from mae_study.models.attention import attention_maps, forward_with_attention, recording_attention
from mae_study.models.classifier import MAEClassifier, FINETUNE_MODES
from mae_study.models.mae import (MaskedAutoencoder, MAEConfig, MAEEncoder, MAEDecoder, MAEOutput, mae_config,
                                  MAE_CONFIGS)
from mae_study.models.zoo import ModelSpec, build_model

__all__ = ["MaskedAutoencoder", "MAEConfig", "MAEEncoder", "MAEDecoder", "MAEOutput", "mae_config",
           "MAE_CONFIGS", "MAEClassifier", "FINETUNE_MODES", "ModelSpec", "build_model", "apply_mode",
           "load_backbone", "num_trainable", "attention_maps", "forward_with_attention",
           "recording_attention"]
