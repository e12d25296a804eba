"""Training and evaluation loops (local and Ray backends)."""
