"""brainseg: U-Net segmentation of lower-grade glioma FLAIR abnormalities in brain MRI."""

__version__ = "0.1.0"
