"""Helpers for env plugin authors (the contract itself is in vlarl.contracts.env)."""
