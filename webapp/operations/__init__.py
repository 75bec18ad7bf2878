"""Operations on the archive as a whole: leftover collection, consistency checks, backup, restore,
and the background jobs' registries (``jobs``).

These modules look after what the application stores (rows and objects) rather than serving
people. They are called by the ``passages`` command, by scheduled RQ jobs and by the admin
checks and jobs pages; they never render pages or parse requests.
"""
