"""Tensor construction: Alloc, ARange, Join, Split, MakeVector, Eye, ..."""
