"""The MAE ablations chapter (book/mae_ablations.md, notebooks 06 and 07): He et al.'s ablation tables."""
