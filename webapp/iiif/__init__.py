"""IIIF for Passages: the Image API 3.0 over published images and Presentation 3.0 manifests.

``image_api`` parses and validates Image API requests and writes ``info.json`` (pure functions);
``rendering`` turns a validated request into image bytes from a stored derivative or, when none is
large enough, from the original; ``presentation`` writes manifests and collections. What may be
served, and the object-store cache, are the service's (``webapp.services.iiif``). Nothing in this
package decides visibility: every public path goes through that service and the one visibility
rule.
"""
