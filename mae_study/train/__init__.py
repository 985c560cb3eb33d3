"""Training, shared by every chapter: the engine (`fit`), its config, batches, augmentations,
optimisers, hooks, mask-ratio schedules, losses and evaluation. Nothing here knows a chapter."""
