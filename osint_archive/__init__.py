"""osint-archive: collection and archiving pipeline for human-rights documentation."""
