"""Patient-level evaluation: per-slice and per-patient (3D) metrics and the ablation study."""
