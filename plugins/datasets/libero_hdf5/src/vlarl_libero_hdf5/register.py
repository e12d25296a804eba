"""Registration of the ``libero_hdf5`` dataset (light: no h5py, numpy or torch import)."""

from __future__ import annotations

from dataclasses import dataclass, field

import vlarl


@dataclass
class LiberoHDF5Config:
    paths: list[str] = field(default_factory=list)
    """HDF5 files, or directories whose ``*.hdf5`` files are all read (one file per task, as LIBERO ships them)."""
    max_demos_per_task: int | None = None
    """Use only the first K demonstrations of each file (few-shot SFT); None: all."""
    privileged_state: bool = False
    """Append the object poses of ``obs/object`` to the 8 robot dims, as the libero env's ``privileged_state``."""
    cameras: list[str] = field(default_factory=list)
    """Image keys to load: ``agentview`` -> images, ``robot0_eye_in_hand`` -> wrist_images (empty: states only)."""


@vlarl.hookimpl
def vlarl_register() -> list[vlarl.PluginSpec]:
    return [
        vlarl.PluginSpec(
            kind="dataset",
            name="libero_hdf5",
            factory="vlarl_libero_hdf5.dataset:make_dataset",
            description="LIBERO / robomimic HDF5 demonstrations (data/demo_<i>/actions, obs/...): states, images, task text.",
            config=LiberoHDF5Config,
            requirements=(vlarl.Requirement("python", "h5py", "pip install h5py"),),
        )
    ]
