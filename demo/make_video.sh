#!/usr/bin/env bash
# Rebuild demo/site/media/court-hearing.mp4: the demo site's one video, with Russian speech.
#
# The demo (`make demo`) archives the page news/ru-video-hearing.html, keeps this file as a
# media object and transcribes it, so that a phrase heard only in the video can be found:
#
#   .venv/bin/osint-archive search "избили" --kind transcript --json
#
# The word «избили» is spoken in the video and written on no page of the demo site, so the hit
# can only come from the transcript (with the start and end second of the segment).
#
# Everything is made offline from Debian packages (`make system-deps` installs them):
#   festival + festvox-ru  text2wave with the Russian voice msu_ru_nsh (16 kHz mono WAV)
#   ffmpeg, ffprobe        2 s of silence before the speech, 1 s after; a 160x90, 2 fps still
#                          picture (H.264) and AAC mono at 32 kb/s, moov at the front
# The result is about 50 KB and 14 s long. Run from anywhere: bash demo/make_video.sh
# The file is committed; rerun this only to change the speech (then check the transcript:
# Whisper base must still hear the searched word in exactly this form).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="${1:-$here/site/media/court-hearing.mp4}"
voice="voice_msu_ru_nsh_clunits"
lead_seconds=2
tail_seconds=1

# Fictional, like every report on the demo site. One sentence a line; festival pauses between.
speech='Адвокат заявил, что его подзащитного избили в изоляторе.
Врачей к нему не пустили.
Заседание суда в Бресте перенесли на понедельник.'

for tool in text2wave ffmpeg ffprobe; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed; run: make system-deps" >&2; exit 1; }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

printf '%s\n' "$speech" | text2wave -eval "($voice)" -o "$work/speech.wav"

# Audio: silence, the speech, silence, as one WAV whose length sets the video's.
ffmpeg -nostdin -hide_banner -loglevel error -y -i "$work/speech.wav" \
  -af "adelay=${lead_seconds}s:all=1,apad=pad_dur=${tail_seconds}" -ac 1 -ar 16000 "$work/track.wav"
duration="$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$work/track.wav")"

# Video: a dark blue still with a lighter band (no text, so no font is needed), as long as the
# audio. Bit-exact flags and no metadata keep a rebuild byte-for-byte the same.
mkdir -p "$(dirname "$dest")"
ffmpeg -nostdin -hide_banner -loglevel error -y \
  -f lavfi -i "color=c=0x1f2a44:s=160x90:r=2:d=${duration}" \
  -i "$work/track.wav" \
  -vf "drawbox=x=0:y=62:w=160:h=14:color=0x8fa3c7:t=fill,format=yuv420p" \
  -c:v libx264 -preset veryslow -tune stillimage -crf 30 -g 60 \
  -c:a aac -b:a 32k -ac 1 -ar 16000 \
  -map_metadata -1 -fflags +bitexact -flags:v +bitexact -flags:a +bitexact \
  -movflags +faststart \
  "$dest"

echo "wrote $dest ($(stat -c %s "$dest") bytes)"
