"""Media: pure code about images and where their objects live, shared by the web app and workers.

``imaging`` identifies uploads and builds derivatives (bytes in, values out); ``keys`` is the one
place that spells object keys (originals and derivatives). Neither touches Flask, the database,
the queue or the network, so both the upload path (``webapp.services.submissions``) and the jobs
(``workers.images``, ``workers.maintenance``) can use them without the web app ever importing
``workers``.
"""
