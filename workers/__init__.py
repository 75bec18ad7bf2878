"""Background work: RQ job functions by purpose, the outbox relay, and the worker entry point."""
