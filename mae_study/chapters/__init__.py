"""One package per chapter of the book, each with its plan (runs and grid), runners, tables,
figures and claims. Chapters use `train`, `runs`, `report`, `data` and `models`; only
`mae_study.sweep` knows every chapter."""
