"""Data layer: discovery, validation, splits, synthetic data, dataset and transforms."""
