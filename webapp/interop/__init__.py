"""Interoperability: the formats in which the archive leaves and enters (exports, imports), and
the world's standards it speaks (OAI-PMH, Schema.org, sitemaps, Atom feeds).

Each module turns public records into one standard's document, or reads one back; none of them
decides what is public (``webapp.services.visibility`` and ``webapp.services.publication`` do).
"""
