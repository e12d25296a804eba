"""Fake of ``isaaclab.managers`` (TerminationManager, recorder classes)."""

from isaaclab import _log

_log.require_app("isaaclab.managers")

from .recorder_manager import DatasetExportMode, RecorderManager, RecorderManagerBaseCfg, RecorderTerm, RecorderTermCfg  # noqa: E402
from .termination_manager import TerminationManager, TerminationTermCfg  # noqa: E402

__all__ = [
    "DatasetExportMode",
    "RecorderManager",
    "RecorderManagerBaseCfg",
    "RecorderTerm",
    "RecorderTermCfg",
    "TerminationManager",
    "TerminationTermCfg",
]
