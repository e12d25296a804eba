"""Plugin declaration, discovery and lookup."""
