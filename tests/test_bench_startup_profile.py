"""``bench.startup_profile`` reads ``-X importtime`` logs: importers, and packages' costs."""

from __future__ import annotations

from bench.startup_profile import import_breakdown, parse_importtime

# Post-order, as Python prints it: a module after everything it imported.
LOG = """import time: self [us] | cumulative | imported package
import time:     10000 |      10000 |       yarl
import time:     30000 |      40000 |     aiohttp
import time:      5000 |      45000 |   collectors.http_fetch
import time:      2000 |       2000 |   aiohttp.web
import time:      1000 |      48000 | collectors
import time:       500 |        500 | json
"""


def test_each_module_knows_its_importer() -> None:
    lines = {line.module: line for line in parse_importtime(LOG)}
    assert lines["yarl"].parent == "aiohttp"
    assert lines["aiohttp"].parent == "collectors.http_fetch"
    assert lines["collectors.http_fetch"].parent == "collectors"
    assert lines["aiohttp.web"].parent == "collectors"
    assert lines["collectors"].parent is None


def test_third_party_packages_are_charged_where_project_code_imports_them() -> None:
    breakdown = import_breakdown(parse_importtime(LOG))
    assert breakdown["total_ms"] == 48.5  # the self times add up
    assert breakdown["project_modules_self_ms"] == 6.0
    charged = {p["package"]: p for p in breakdown["imported_by_project"]}
    # aiohttp with yarl under it, plus aiohttp.web imported later from collectors itself.
    assert charged["aiohttp"]["cumulative_ms"] == 40.0 + 2.0
    assert charged["aiohttp"]["imported_by"] == ["collectors", "collectors.http_fetch"]
    assert "yarl" not in charged  # paid for inside aiohttp
    assert charged["json"]["imported_by"] == ["(entry point)"]
