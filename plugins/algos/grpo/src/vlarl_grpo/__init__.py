"""vlarl algorithm plugin: GRPO (group-relative trajectory advantages, no critic)."""
