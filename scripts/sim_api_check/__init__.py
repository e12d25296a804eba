"""Source comparison of the IsaacLab / OmniGibson APIs the vlarl adapters use: real packages vs test fakes."""
