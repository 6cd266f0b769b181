"""Search index: documents derived from the archive, and the backends that search them."""
