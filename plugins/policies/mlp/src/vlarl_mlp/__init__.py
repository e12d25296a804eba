"""vlarl policy plugin: small MLP/CNN chunked policy."""
