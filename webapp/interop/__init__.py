"""Interoperability: the formats in which the archive leaves and enters (exports, imports)."""
