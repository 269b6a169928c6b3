"""The bottom layer: canonical bytes, hashes and their domains, and atomic file writes.

Imports nothing of ivote's own: crypto/ sits above it, formats/ above crypto/, the roles on
top (docs/DEVELOPING.md, "Layout").
"""
