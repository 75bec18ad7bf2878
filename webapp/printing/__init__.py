"""Printed matter made from published content (the exhibition's panels and booklet).

A neutral package: values in, PDF bytes out. It never touches the database, storage, Flask or
the queue; ``webapp.services.exhibitions`` gathers what is public and ``workers.exhibitions``
stores the result.
"""
