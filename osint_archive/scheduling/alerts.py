"""The overdue-source alert, called by Airflow's triggerer when a crawl DAG run has not
succeeded within twice its source's schedule interval (a ``DeadlineAlert``)."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from osint_archive.scheduling.health import load_health, overdue_message

log = logging.getLogger(__name__)

WEBHOOK_VARIABLE = "OSINT_ARCHIVE_ALERT_WEBHOOK"


async def source_overdue(
    context: dict[str, Any] | None = None, *, source_id: str, interval_seconds: float
) -> str | None:
    """Log (and post to ``OSINT_ARCHIVE_ALERT_WEBHOOK``, Slack/Mattermost-style JSON) that a
    source is overdue. Quiet when a later run has succeeded since: the missed run is then
    history, not news. Returns the alert text, or None when there was nothing to say."""
    from osint_archive.scheduling.airflow_dags import task_settings

    store = task_settings().open_store()
    message = overdue_message(
        load_health(store, source_id),
        source_id,
        timedelta(seconds=interval_seconds),
        datetime.now(UTC),
    )
    if message is None:
        log.info("source %s missed a deadline but has succeeded since", source_id)
        return None
    log.error("%s", message)
    webhook = os.environ.get(WEBHOOK_VARIABLE, "").strip()
    if webhook:
        await post_alert(webhook, message)
    return message


async def post_alert(url: str, message: str) -> None:
    """POST ``{"text": message}``; a failing webhook is logged, never raised (the log line
    above already carries the alert)."""
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
            session.post(
                url,
                data=json.dumps({"text": message}),
                headers={"Content-Type": "application/json"},
            ) as response,
        ):
            if response.status >= 300:
                log.error("alert webhook answered HTTP %s", response.status)
    except (aiohttp.ClientError, TimeoutError) as err:
        log.error("alert webhook failed: %s", err)
