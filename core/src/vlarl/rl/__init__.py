"""Algorithm building blocks for plugins (torch): masked statistics, clipped surrogate."""
