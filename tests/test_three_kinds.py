"""One `osint-archive run` over a browser source, a Telegram channel and a video: all three are
archived under one manifest schema and custody model; a second run fetches only new posts."""

from __future__ import annotations

import zipfile
from pathlib import Path

from tests.browser_site import JS_TEXT, BrowserTestSite
from tests.cli_runs import custody_events, run_cli, stored_manifests
from tests.media_site import MediaSite
from tests.telegram_site import TelegramImitation


def test_browser_telegram_and_video_sources_in_one_run(
    tmp_path: Path, media_site_root: Path
) -> None:
    with (
        BrowserTestSite() as web,
        TelegramImitation() as telegram,
        MediaSite(media_site_root) as media,
    ):
        telegram.add_channel("court", "Court watch", [f"Hearing {i} adjourned" for i in range(30)])
        config = tmp_path / "sources.yaml"
        config.write_text(
            "sources:\n"
            f"  - id: rendered\n    kind: web\n    url: {web.url('/js-page.html')}\n"
            "    schedule: '@daily'\n    browser: true\n    max_depth: 0\n    robots: ignore\n"
            f"  - id: court\n    kind: telegram\n    url: {telegram.channel_url('court')}\n"
            "    schedule: '@hourly'\n    delay_seconds: 0\n"
            f"  - id: footage\n    kind: video\n    url: {media.url('video.html')}\n"
            "    schedule: '@weekly'\n",
            encoding="utf-8",
        )
        home = tmp_path / "home"
        archive = home / "archive"

        first = run_cli(home, "run", "--config", str(config), timeout=300)
        assert first.returncode == 0, first.stderr
        rendered = stored_manifests(archive, "rendered")
        posts = stored_manifests(archive, "court")
        footage = stored_manifests(archive, "footage")
        assert JS_TEXT in (archive / rendered[0]["browser"]["dom"]["key"]).read_text()
        assert len([m for m in posts if "post" in m]) == 30
        assert footage[0]["media"][0]["has_audio"] is True
        # One schema: every manifest has the same core fields, told apart by `kind`.
        kinds = {m["kind"] for m in rendered + posts + footage}
        assert kinds == {"web", "telegram", "video"}
        for manifest in rendered + posts + footage:
            assert {"capture_id", "source_id", "warc", "captured_at", "tools"} <= set(manifest)
        for source_id in ("rendered", "court", "footage"):
            types = [e["type"] for e in custody_events(archive, source_id)]
            assert types[:2] == ["stored", "captured"]

        telegram.reset_counts()
        telegram.add_post("court", "Verdict announced")
        second = run_cli(home, "run", "--config", str(config), "--source", "court")
        assert second.returncode == 0, second.stderr
        assert telegram.hits("/s/court") == 1
        assert sum(telegram.hits(f"/s/court?before={i}") for i in range(1, 40)) == 0
        new = [m for m in stored_manifests(archive, "court") if "post" in m]
        assert len(new) == 31
        assert run_cli(home, "audit").returncode == 0

        # A court package carries what each kind kept beside its WARC.
        post = next(m for m in posts if "post" in m)["post"]
        expected = {
            "footage": f"evidence/media-{footage[0]['media'][0]['sha256']}.mp4",
            "rendered": f"evidence/screenshot-{rendered[0]['browser']['screenshot']['sha256']}.png",
            "court": f"evidence/post-{post['sha256']}.json",
        }
        for source_id, evidence in expected.items():
            package = tmp_path / f"{source_id}.wacz"
            exported = run_cli(home, "export", "--source", source_id, "--out", str(package))
            assert exported.returncode == 0, exported.stderr
            with zipfile.ZipFile(package) as wacz:
                assert evidence in wacz.namelist()
