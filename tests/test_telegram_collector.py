"""`osint-archive run` over a Telegram channel imitation on loopback: posts become captures,
preview pages go into WARCs, media are stored once, a second run fetches only new posts, and
edits and deletions become custody events."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.cli_runs import custody_events, run_cli, stored_manifests, warcio_check
from tests.media_fixtures import SpeechSample
from tests.telegram_site import TelegramImitation


def write_config(path: Path, imitation: TelegramImitation, *channels: str) -> Path:
    entries = "".join(
        f"  - id: tg-{name}\n    kind: telegram\n    url: {imitation.channel_url(name)}\n"
        "    schedule: '@hourly'\n    delay_seconds: 0\n"
        for name in channels
    )
    path.write_text(f"sources:\n{entries}", encoding="utf-8")
    return path


@pytest.fixture
def imitation() -> TelegramImitation:
    with TelegramImitation() as site:
        yield site


def post_manifests(archive: Path, source_id: str) -> list[dict]:
    return [m for m in stored_manifests(archive, source_id) if "post" in m]


def test_a_channel_is_archived_post_by_post_and_a_second_run_fetches_only_new_posts(
    tmp_path: Path, imitation: TelegramImitation, speech_mp4_en: SpeechSample
) -> None:
    posts = [f"Сообщение номер {i}: задержан активист в Минске" for i in range(1, 46)]
    imitation.add_channel("viasna", "Вясна", posts)
    photo_id = imitation.add_post("viasna", "Фото с суда", photo=True)
    video_id = imitation.add_post("viasna", "Видео признания", video_path=speech_mp4_en.path)
    config = write_config(tmp_path / "sources.yaml", imitation, "viasna")
    home = tmp_path / "home"
    archive = home / "archive"

    first = run_cli(home, "run", "--config", str(config))
    assert first.returncode == 0, first.stdout + first.stderr
    manifests = post_manifests(archive, "tg-viasna")
    assert sorted(m["post"]["message_id"] for m in manifests) == list(range(1, 48))
    by_id = {m["post"]["message_id"]: m for m in manifests}
    seventh = by_id[7]
    assert seventh["kind"] == "telegram"
    assert seventh["final_url"].endswith("/viasna/7")
    assert seventh["warc"]["record_type"] == "resource"
    record = json.loads((archive / seventh["post"]["key"]).read_bytes())
    assert record["text"] == posts[6]
    assert record["posted_at"].endswith("+00:00")
    # Media: the photo and the video, stored as objects whose digest is their content's.
    video = by_id[video_id]["media"][0]
    assert video["sha256"] == hashlib.sha256(speech_mp4_en.path.read_bytes()).hexdigest()
    assert video["has_audio"] is True
    assert abs(video["duration_seconds"] - speech_mp4_en.duration_seconds) < 0.5
    assert (archive / video["key"]).read_bytes() == speech_mp4_en.path.read_bytes()
    photo = by_id[photo_id]["media"][0]
    assert (archive / photo["key"]).read_bytes() == imitation.photo_bytes("viasna", photo_id)
    # Preview pages (three of them) are in WARCs that pass `warcio check`.
    warcs = {m["warc"]["key"] for m in manifests}
    assert all(warcio_check(archive, key).returncode == 0 for key in warcs)
    assert imitation.hits("/s/viasna?before=28") == 1
    # The posts are searchable, as posts.
    found = run_cli(home, "search", "Видео признания", "--kind", "post", "--json")
    hits = [json.loads(line) for line in found.stdout.splitlines()]
    assert [h["url"] for h in hits] == [by_id[video_id]["final_url"]]

    # Second run: two new posts, one edited, one deleted since.
    imitation.reset_counts()
    new_ids = [imitation.add_post("viasna", f"Новый пост {i}") for i in (1, 2)]
    imitation.edit_post("viasna", 40, "Исправлено: освобождён")
    imitation.delete_post("viasna", 38)
    second = run_cli(home, "run", "--config", str(config))
    assert second.returncode == 0, second.stdout + second.stderr
    assert imitation.hits("/s/viasna") == 1
    assert not any(imitation.hits(f"/s/viasna?before={i}") for i in range(1, 60))
    after = post_manifests(archive, "tg-viasna")
    fresh = [m for m in after if m["run_id"] != seventh["run_id"]]
    assert sorted(m["post"]["message_id"] for m in fresh) == sorted([40, *new_ids])
    edited = next(m for m in fresh if m["post"]["message_id"] == 40)
    assert edited["text_status"] == "changed"
    # The first version is still there, untouched.
    assert json.loads((archive / by_id[40]["post"]["key"]).read_bytes())["text"] == posts[39]
    events = custody_events(archive, "tg-viasna")
    kinds = {(e["type"], e["details"].get("message_id")) for e in events}
    assert ("post_edited", 40) in kinds
    assert ("post_deleted", 38) in kinds
    edit_event = next(e for e in events if e["type"] == "post_edited")
    assert edit_event["details"]["previous_capture_id"] == by_id[40]["capture_id"]
    assert edit_event["details"]["capture_id"] == edited["capture_id"]

    # A third run with nothing new captures no post and repeats no event.
    third = run_cli(home, "run", "--config", str(config))
    assert third.returncode == 0
    assert len(post_manifests(archive, "tg-viasna")) == len(after)
    assert len(custody_events(archive, "tg-viasna")) == len(events) + 2  # stored + captured
    # Everything stored is intact.
    audit = run_cli(home, "audit")
    assert audit.returncode == 0, audit.stdout


def test_missing_and_private_channels_fail_clearly_and_the_others_go_on(
    tmp_path: Path, imitation: TelegramImitation
) -> None:
    imitation.add_channel("open", "Open", [f"post {i}" for i in range(1, 4)])
    imitation.add_channel("closed", "Closed", ["secret"])
    imitation.make_private("closed")
    config = write_config(tmp_path / "sources.yaml", imitation, "open", "closed", "nosuch")
    home = tmp_path / "home"

    done = run_cli(home, "run", "--config", str(config))
    assert done.returncode == 1, done.stderr
    out = done.stderr  # the run's report goes to stderr, like progress
    assert "tg-closed" in out and "private" in out
    assert "tg-nosuch" in out and ("not exist" in out or "no channel" in out)
    assert len(post_manifests(home / "archive", "tg-open")) == 3
    assert not post_manifests(home / "archive", "tg-closed")


def test_a_broken_media_file_costs_only_that_file(
    tmp_path: Path, imitation: TelegramImitation, html_disguised_as_mp4: Path
) -> None:
    imitation.add_channel("media", "Media", ["before"])
    bad = imitation.add_post("media", "broken video", video_path=html_disguised_as_mp4)
    config = write_config(tmp_path / "sources.yaml", imitation, "media")
    home = tmp_path / "home"

    done = run_cli(home, "run", "--config", str(config))
    # The channel worked; the one bad file is reported with its reason and the post kept.
    assert done.returncode == 0, done.stderr
    manifests = {m["post"]["message_id"]: m for m in post_manifests(home / "archive", "tg-media")}
    assert set(manifests) == {1, bad}
    assert "media" not in manifests[bad]  # no media object: nothing playable was served
    assert f"media failed for {imitation.video_url('media', bad)}" in done.stderr
