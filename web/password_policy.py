"""Which passwords an account may have: long enough, and not guessable by a strength estimator.

Length alone lets "password1234" and twelve spaces through. zxcvbn (Dropbox's estimator,
kept as the ``zxcvbn`` package) scores a password 0–4 by the guesses an attacker who knows
common passwords, words, names, keyboard patterns and the account's own name would need;
3 is its "safely unguessable" (about 10^10 guesses, against an offline attack on slow hashes
such as the argon2id ones kept here).
"""

from __future__ import annotations

import threading

from zxcvbn import zxcvbn

MIN_PASSWORD_LENGTH = 12
MIN_PASSWORD_SCORE = 3
# zxcvbn refuses longer input (its matching is quadratic); a longer password is scored on its
# first 72 characters, which is stricter, never laxer.
ESTIMATED_LENGTH = 72
# Words an attacker tries first against this service, besides the account's own name.
SERVICE_WORDS = (
    "osint",
    "archive",
    "osint-archive",
    "investigator",
    "analyst",
    "custodian",
    "admin",
)
# zxcvbn keeps the user inputs of a call in a module-level dictionary: two calls at once (two
# web requests) would score against each other's usernames.
_ESTIMATOR_LOCK = threading.Lock()


def password_problem(password: str, username: str = "") -> str | None:
    """Why ``password`` may not be used for the account ``username``, or None when it may.

    The message carries zxcvbn's own warning and suggestions, so a person knows what to change.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"the password must have at least {MIN_PASSWORD_LENGTH} characters"
    if not password.strip():
        return "the password must not be only spaces"
    with _ESTIMATOR_LOCK:
        estimate = zxcvbn(password[:ESTIMATED_LENGTH], user_inputs=[username, *SERVICE_WORDS])
    if estimate["score"] >= MIN_PASSWORD_SCORE:
        return None
    feedback = estimate["feedback"]
    hints = [feedback["warning"], *feedback["suggestions"]]
    advice = " ".join(hint for hint in hints if hint)
    return "the password is too easy to guess" + (f": {advice}" if advice else "")
