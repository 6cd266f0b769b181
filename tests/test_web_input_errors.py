"""Input the search page cannot use gets a clear 400 with the reason, never a server error:
parentheses nested past the parser's bound, control characters in filter values."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from web.accounts import Accounts, Role
from web.app import create_app
from web.config import WebSettings

USERNAME, PASSWORD = "ivan", "correct horse battery"

# (id, query parameters, the reason the page must show)
UNUSABLE_SEARCHES = [
    ("nested-parentheses", {"q": "(" * 400 + "суд"}, "nests parentheses more than 32 deep"),
    ("closed-nesting", {"q": "(" * 400 + "суд" + ")" * 400}, "nests parentheses"),
    ("nul-in-lang", {"q": "суд", "lang": "ru\x00"}, "lang filter contains a control character"),
    ("nul-alone-in-lang", {"q": "суд", "lang": "\x00"}, "(U+0000)"),
    ("escape-in-source", {"q": "суд", "source": "demo\x1b[2J"}, "source filter contains"),
    ("c1-in-tag", {"q": "суд", "tag": "x\x9by"}, "tag filter contains a control character"),
    ("delete-in-lang", {"q": "суд", "lang": "ru\x7f"}, "(U+007F)"),
]


@pytest.fixture(scope="module")
def investigator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A signed-in investigator over an empty archive: these answers come before any search."""
    home = tmp_path_factory.mktemp("web-input-errors") / "home"
    accounts = Accounts(home / "web" / "accounts.sqlite")
    accounts.add(USERNAME, Role.INVESTIGATOR, PASSWORD)
    accounts.close()
    settings = WebSettings.from_env({"OSINT_ARCHIVE_HOME": str(home)})
    # Server errors come back as 500 answers, as a browser would see them, not as exceptions.
    app = create_app(settings)
    with TestClient(
        app, base_url="http://127.0.0.1", follow_redirects=False, raise_server_exceptions=False
    ) as client:
        form = client.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf, form.text[:2000]
        signed_in = client.post(
            "/login",
            data={"username": USERNAME, "password": PASSWORD, "csrf": csrf.group(1)},
        )
        assert signed_in.status_code == 303, signed_in.text[:1000]
        yield client


@pytest.mark.parametrize(
    ("params", "reason"),
    [case[1:] for case in UNUSABLE_SEARCHES],
    ids=[case[0] for case in UNUSABLE_SEARCHES],
)
def test_unusable_search_is_a_400_with_the_reason(
    investigator: TestClient, params: dict[str, str], reason: str
) -> None:
    page = investigator.get("/search", params=params)
    assert page.status_code == 400, page.text[:1000]
    assert reason in page.text


def test_nesting_within_the_bound_is_searched(investigator: TestClient) -> None:
    page = investigator.get("/search", params={"q": "(" * 32 + "суд" + ")" * 32, "lang": "ru"})
    assert page.status_code == 200, page.text[:1000]
