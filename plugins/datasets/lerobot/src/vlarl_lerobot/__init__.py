"""LeRobot-format datasets (v2.1, v3.0) for ``vlarl sft``; GR00T modality.json and metadata.json statistics."""
