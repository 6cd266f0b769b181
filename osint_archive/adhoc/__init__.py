"""Preserve this now: on-demand captures of single URLs and lists (``osint-archive capture``).

Every URL goes through the same collectors, network guard, caps, WARC writing, manifests,
custody and enrichers as a scheduled source, as a capture of the built-in ``adhoc`` source:

- ``records``: the typed request, options and result records;
- ``url_lists``: reading a list file (text or CSV) into requests and problems;
- ``kinds``: which collector a URL needs (``--kind auto``);
- ``ledger``: what was captured ad hoc and when (the reuse window, resuming a list);
- ``runner``: capturing a batch, side by side within each host's politeness limits
  (``from osint_archive.adhoc.runner import capture_urls``: it loads the collectors, so the
  package itself stays light for the command line).
"""

from osint_archive.adhoc.records import (
    ADHOC_SOURCE_ID,
    CaptureOptions,
    CaptureRequest,
    CaptureResult,
)
from osint_archive.adhoc.url_lists import UrlList, UrlListError, read_url_list

__all__ = [
    "ADHOC_SOURCE_ID",
    "CaptureOptions",
    "CaptureRequest",
    "CaptureResult",
    "UrlList",
    "UrlListError",
    "read_url_list",
]
