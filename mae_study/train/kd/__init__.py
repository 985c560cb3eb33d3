"""Chapter 3: multi-teacher knowledge distillation from a contrastive (DINO) and a masked-image
(MAE) teacher into a small ViT. Pure losses and attention statistics, the DINO loss, and the thin
wrappers the training engine calls."""
from mae_study.train.kd.attention_stats import (attention_confidence, attention_distance, head_attention,
                              mean_attention_distance_per_layer, patch_attention, patch_distances, select_head)
from mae_study.train.kd.dino import (DINOHead, DINOLoss, DINOObjective, DINOPair, dino_loss, ema_update_,
                                     teacher_temperature, updated_center)
from mae_study.train.kd.losses import attention_kl, attn_loss, check_fraction, joint_loss, kd_loss, output_kl
from mae_study.train.kd.objective import KDModels, MultiTeacherKDLoss

__all__ = ["attention_confidence", "attention_distance", "head_attention", "mean_attention_distance_per_layer",
           "patch_attention", "patch_distances", "select_head", "DINOHead", "DINOLoss", "DINOObjective",
           "DINOPair", "dino_loss", "ema_update_", "teacher_temperature", "updated_center", "attention_kl",
           "attn_loss", "check_fraction", "joint_loss", "kd_loss", "output_kl", "KDModels", "MultiTeacherKDLoss"]
