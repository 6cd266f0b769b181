"""Airflow pools: how many browsers, speech recognisers and crawls of one host run at once,
across every worker. ``osint-archive sources pools`` prints them for ``airflow pools import``."""

from __future__ import annotations

from osint_archive.sources import Source, SourcesConfig

BROWSER_POOL = "browser"
SPEECH_POOL = "speech"
BROWSER_SLOTS = 2  # one Chromium takes ~1 GB and a core while rendering
SPEECH_SLOTS = 1  # one model transcribing uses every core of its machine


def host_pool(host: str) -> str:
    """The politeness pool of one host: one crawl of that host at a time, cluster-wide."""
    return "host_" + host.replace(".", "_")


def crawl_pool(source: Source) -> str:
    """The pool a source's crawl task queues in; rendered sources queue for a browser."""
    return BROWSER_POOL if source.browser else host_pool(source.host)


def pool_specs(config: SourcesConfig) -> dict[str, dict[str, object]]:
    """Every pool the configured DAGs use, in ``airflow pools import`` format."""
    pools: dict[str, dict[str, object]] = {
        BROWSER_POOL: _pool(BROWSER_SLOTS, "Chromium instances rendering pages"),
        SPEECH_POOL: _pool(SPEECH_SLOTS, "speech recognition (faster-whisper) tasks"),
    }
    for source in config.sources:
        name = crawl_pool(source)
        if name not in pools:
            pools[name] = _pool(1, f"politeness: crawls of {source.host}, one at a time")
    return pools


def _pool(slots: int, description: str) -> dict[str, object]:
    return {"slots": slots, "description": description, "include_deferred": False}
