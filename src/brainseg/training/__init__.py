"""Training with Lightning. Nothing outside this package imports Lightning."""
