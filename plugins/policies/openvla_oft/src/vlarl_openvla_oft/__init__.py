"""OpenVLA-OFT policy plugin for vlarl (import the heavy parts from their modules, not from here)."""
