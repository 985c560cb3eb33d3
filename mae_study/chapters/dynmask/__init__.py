"""The dynamic masking chapter (book/dynmask.md, notebooks 03 to 05): Hata, Tadamura and Samura's mask-ratio curriculum."""
