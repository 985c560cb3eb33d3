"""A run of the study: its parameters (profiles, `Experiment`, `Params`), the run skeleton and
run names, the results store, the shared MAE pre-training, fine-tuning and pixel-probe runners,
the task rungs, and what recomputing results costs. Nothing here knows a chapter."""
