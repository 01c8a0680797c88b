"""Image I/O: every format brainseg reads or writes, behind one ``Volume`` type.

- ``images``: decoding 2D image files (TIFF, PNG, JPEG) safely.
- ``volume``: the ``Volume`` type (voxels, affine, spacing, sequence names, source).
- ``naming``: file-name rules (slice numbers, mask files, NIfTI names).
- ``readers``: one reader per input format, found through a registry.
- ``writers``: masks out as PNG slices or NIfTI volumes.

Nothing here knows about models or training.
"""
