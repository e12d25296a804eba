"""GR00T N1.5 policy plugin for vlarl."""
