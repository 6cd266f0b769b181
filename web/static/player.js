// The transcript player: a segment seeks the media; ?t= (a search hit) starts it there;
// the segment being spoken is highlighted. Nothing else runs on the application's pages.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const media = document.getElementById("media");
  if (!media) return;
  const position = document.getElementById("position");
  const segments = Array.from(document.querySelectorAll("button.segment"));
  const start = parseFloat(media.dataset.start || "0");
  const seek = (seconds) => {
    media.currentTime = seconds;
    const played = media.play();
    if (played) played.catch(() => {}); // autoplay may be refused; the position still holds
  };
  if (start > 0) {
    if (media.readyState >= 1) seek(start);
    else media.addEventListener("loadedmetadata", () => seek(start), { once: true });
  }
  segments.forEach((button) => {
    button.addEventListener("click", () => seek(parseFloat(button.dataset.start)));
  });
  media.addEventListener("timeupdate", () => {
    const now = media.currentTime;
    if (position) position.textContent = now.toFixed(1) + " s";
    segments.forEach((button) => {
      const on = now >= parseFloat(button.dataset.start) && now < parseFloat(button.dataset.end);
      button.classList.toggle("current", on);
      if (on) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    });
  });
});
