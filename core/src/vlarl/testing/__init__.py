"""Conformance kit (filled in by the next commit)."""
