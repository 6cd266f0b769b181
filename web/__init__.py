"""The investigators' web UI: search, capture pages, sandboxed replay, the transcript player
and access control, served by ``osint-archive serve``."""
