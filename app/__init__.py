"""Sift: curate LLM instruction data."""

__version__ = "0.1.0"
