"""The MAE chapter (book/mae.md, notebook 02): He et al.'s masked autoencoder pre-trained and its reconstructions."""
