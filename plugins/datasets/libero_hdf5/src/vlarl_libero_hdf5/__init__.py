"""LIBERO-format HDF5 demonstrations for ``vlarl sft``."""
