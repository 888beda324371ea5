"""Thin loops, one per topic: decode -> service -> commit."""
