"""PostgreSQL helpers that every part of the project shares: URLs, databases, the embedded server.

``handler``, ``workflows`` and ``simulator`` may all import this package; it imports none of them.
"""
