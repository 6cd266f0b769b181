"""Handing "Archive a URL" requests to Airflow when Airflow is the scheduler.

The form then triggers the ``capture_urls`` DAG through Airflow's REST API instead of the
server's own queue, and the job page reads the DAG run's state from the same API. Airflow 3
(the version this project pins) serves the API under ``/api/v2`` and takes a JWT token made
by ``POST /auth/token`` from a username and password (the simple auth manager of the Compose
setup, or FAB's).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from osint_archive.settings import SettingsError

DAG_ID = "capture_urls"
API_URL_VARIABLE = "OSINT_ARCHIVE_AIRFLOW_API_URL"
USER_VARIABLE = "OSINT_ARCHIVE_AIRFLOW_USER"
PASSWORD_VARIABLE = "OSINT_ARCHIVE_AIRFLOW_PASSWORD"  # noqa: S105 - a variable's name
MAX_ANSWER_BYTES = 1024 * 1024
MAX_DETAIL_CHARS = 300


class AirflowError(Exception):
    """Airflow could not be reached, or refused; the message says which and why."""


@dataclass(frozen=True)
class DagRun:
    run_id: str
    state: str  # Airflow's: queued, running, success, failed


@dataclass(frozen=True)
class AirflowApi:
    """Where Airflow's REST API answers and whom to sign in as."""

    url: str  # e.g. http://airflow-apiserver:8080, without a trailing slash
    username: str
    password: str = field(repr=False)
    timeout_seconds: float = 10.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AirflowApi | None:
        """``OSINT_ARCHIVE_AIRFLOW_API_URL`` with ``OSINT_ARCHIVE_AIRFLOW_USER`` and
        ``OSINT_ARCHIVE_AIRFLOW_PASSWORD``; None when no API is named."""
        url = environ.get(API_URL_VARIABLE, "").strip().rstrip("/")
        if not url:
            return None
        if not url.startswith(("http://", "https://")):
            raise SettingsError(f"{API_URL_VARIABLE} must be an http(s) URL, not {url!r}")
        username = environ.get(USER_VARIABLE, "").strip()
        password = environ.get(PASSWORD_VARIABLE, "")
        if not username or not password:
            raise SettingsError(
                f"{API_URL_VARIABLE} is set: set {USER_VARIABLE} and {PASSWORD_VARIABLE} too"
            )
        return cls(url, username, password)

    def trigger(self, conf: Mapping[str, Any]) -> DagRun:
        """A new run of the ``capture_urls`` DAG with ``conf``."""
        answer = self._call(
            "POST",
            f"/api/v2/dags/{DAG_ID}/dagRuns",
            {"logical_date": None, "conf": dict(conf)},
            self._token(),
        )
        return _dag_run(answer)

    def dag_run(self, run_id: str) -> DagRun:
        """A run of the ``capture_urls`` DAG as Airflow knows it now."""
        path = f"/api/v2/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}"
        return _dag_run(self._call("GET", path, None, self._token()))

    def _token(self) -> str:
        answer = self._call(
            "POST", "/auth/token", {"username": self.username, "password": self.password}
        )
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise AirflowError(f"Airflow at {self.url} answered /auth/token without a token")
        return token

    def _call(
        self, method: str, path: str, body: object, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in from_env
            self.url + path,
            data=None if body is None else json.dumps(body).encode("utf-8"),
            method=method,
            headers=headers,
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as answer:  # noqa: S310
                data = answer.read(MAX_ANSWER_BYTES)
        except urllib.error.HTTPError as err:
            raise AirflowError(_refusal(err, method, path)) from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise AirflowError(f"Airflow's API at {self.url} cannot be reached: {reason}") from None
        try:
            answer = json.loads(data)
        except ValueError:
            raise AirflowError(f"Airflow answered {method} {path} with no JSON") from None
        if not isinstance(answer, dict):
            raise AirflowError(f"Airflow answered {method} {path} with no JSON object")
        return answer


def _refusal(err: urllib.error.HTTPError, method: str, path: str) -> str:
    """Airflow's answer to a refused call, with what to check."""
    try:
        detail = err.read(MAX_ANSWER_BYTES).decode("utf-8", errors="replace")
    except OSError:
        detail = ""
    detail = " ".join(detail.split())[:MAX_DETAIL_CHARS]
    hint = {
        401: f": check {USER_VARIABLE} and {PASSWORD_VARIABLE}",
        403: f": the Airflow account may not trigger {DAG_ID}",
        404: f": is the {DAG_ID} DAG deployed (and the URL Airflow 3's API)?",
    }.get(err.code, "")
    return f"Airflow refused {method} {path} (HTTP {err.code}){hint}" + (
        f" — {detail}" if detail else ""
    )


def _dag_run(answer: Mapping[str, Any]) -> DagRun:
    run_id, state = answer.get("dag_run_id"), answer.get("state")
    if not isinstance(run_id, str) or not run_id:
        raise AirflowError("Airflow's answer names no dag_run_id")
    return DagRun(run_id, state if isinstance(state, str) else "unknown")
