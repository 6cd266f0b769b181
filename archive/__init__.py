"""Evidence storage: object stores, WARC writing, capture manifests, the custody log."""
