"""Producer database and data change simulator. Depends on neither ``handler`` nor ``workflows``."""
