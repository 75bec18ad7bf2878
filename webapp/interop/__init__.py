"""The archive in its world's standards: OAI-PMH, Schema.org, sitemaps and Atom feeds.

Each module turns public records into one standard's document; none of them decides what is
public (``webapp.services.visibility`` and ``webapp.services.publication`` do).
"""
