"""The distillation chapter (book/kd.md, notebooks 08 to 10): multi-teacher knowledge distillation from a DINO and an MAE teacher."""
