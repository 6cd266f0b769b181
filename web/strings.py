"""Interface strings in English and Russian; the language comes from ``?ui=``, then the
``lang`` cookie, then the browser's Accept-Language."""

from __future__ import annotations

LANGUAGES = ("en", "ru")
STRINGS: dict[str, dict[str, str]] = {
    "app": {"en": "osint-archive", "ru": "osint-archive"},
    "skip": {"en": "Skip to content", "ru": "Перейти к содержимому"},
    "search": {"en": "Search", "ru": "Поиск"},
    "query": {"en": "Search the archive", "ru": "Поиск по архиву"},
    "query_help": {
        "en": 'Words, "exact phrases", AND, OR, NOT, (groups), prefix*',
        "ru": "Слова, «точные фразы» в кавычках, AND, OR, NOT, (группы), префикс*",
    },
    "sort": {"en": "Order", "ru": "Порядок"},
    "relevance": {"en": "Relevance", "ru": "По релевантности"},
    "newest": {"en": "Newest first", "ru": "Сначала новые"},
    "oldest": {"en": "Oldest first", "ru": "Сначала старые"},
    "filters": {"en": "Filters", "ru": "Фильтры"},
    "kind": {"en": "Kind", "ru": "Тип"},
    "source": {"en": "Source", "ru": "Источник"},
    "lang": {"en": "Language", "ru": "Язык"},
    "tag": {"en": "Tag", "ru": "Метка"},
    "month": {"en": "Captured in", "ru": "Дата захвата"},
    "since": {"en": "Captured from", "ru": "Захвачено с"},
    "until": {"en": "Captured until", "ru": "Захвачено по"},
    "apply": {"en": "Apply", "ru": "Применить"},
    "clear": {"en": "Clear filters", "ru": "Сбросить фильтры"},
    "remove_filter": {"en": "remove filter", "ru": "убрать фильтр"},
    "results": {"en": "Results", "ru": "Результаты"},
    "found": {"en": "{n} found", "ru": "Найдено: {n}"},
    "counts_of_first": {
        "en": "Counts among the first {n} matches.",
        "ru": "Подсчёт по первым {n} совпадениям.",
    },
    "no_results": {"en": "Nothing found.", "ru": "Ничего не найдено."},
    "page_n": {"en": "Page {n}", "ru": "Страница {n}"},
    "previous": {"en": "Previous", "ru": "Назад"},
    "next": {"en": "Next", "ru": "Далее"},
    "captured": {"en": "Captured", "ru": "Захвачено"},
    "said_at": {"en": "Said at", "ru": "Сказано на"},
    "play": {"en": "Play from here", "ru": "Воспроизвести с этого места"},
    "page": {"en": "page", "ru": "страница"},
    "post": {"en": "post", "ru": "пост"},
    "transcript": {"en": "transcript", "ru": "расшифровка"},
    "capture": {"en": "Capture", "ru": "Захват"},
    "metadata": {"en": "Metadata", "ru": "Метаданные"},
    "requested_url": {"en": "Requested URL", "ru": "Запрошенный URL"},
    "final_url": {"en": "Final URL", "ru": "Итоговый URL"},
    "status": {"en": "HTTP status", "ru": "HTTP-статус"},
    "time_utc": {"en": "Time (UTC)", "ru": "Время (UTC)"},
    "ip": {"en": "Server IP address", "ru": "IP-адрес сервера"},
    "tools": {"en": "Tools and versions", "ru": "Инструменты и версии"},
    "hashes": {"en": "Hashes (SHA-256)", "ru": "Хеши (SHA-256)"},
    "custody": {"en": "Chain of custody", "ru": "Цепочка хранения"},
    "chain_intact": {"en": "chain intact", "ru": "цепочка цела"},
    "chain_broken": {"en": "broken at event {n}", "ru": "нарушена на событии {n}"},
    "chain_summary": {
        "en": "{events} events, verified {at} UTC",
        "ru": "событий: {events}, проверено {at} UTC",
    },
    "chain_broken_summary": {"en": "verified {at} UTC:", "ru": "проверено {at} UTC:"},
    "access": {"en": "Views and downloads", "ru": "Просмотры и скачивания"},
    "event": {"en": "Event", "ru": "Событие"},
    "when": {"en": "When (UTC)", "ru": "Когда (UTC)"},
    "who": {"en": "Who", "ru": "Кто"},
    "what": {"en": "What", "ru": "Что"},
    "screenshot": {"en": "Screenshot", "ru": "Снимок экрана"},
    "text": {"en": "Extracted text", "ru": "Извлечённый текст"},
    "no_text": {"en": "No text was extracted.", "ru": "Текст не извлечён."},
    "versions": {"en": "Captures of this URL", "ru": "Захваты этого URL"},
    "this_capture": {"en": "this capture", "ru": "этот захват"},
    "diff": {"en": "Compare with this one", "ru": "Сравнить с этим"},
    "diff_title": {"en": "Text changes", "ru": "Изменения текста"},
    "no_changes": {"en": "The texts are identical.", "ru": "Тексты совпадают."},
    "downloads": {"en": "Downloads", "ru": "Скачать"},
    "warc_record": {"en": "WARC record (original)", "ru": "Запись WARC (оригинал)"},
    "warc_file": {"en": "Whole WARC file", "ru": "Весь файл WARC"},
    "media": {"en": "Media", "ru": "Медиа"},
    "replay": {"en": "Preserved page", "ru": "Сохранённая страница"},
    "open_replay": {"en": "Open the preserved page", "ru": "Открыть сохранённую страницу"},
    "replay_note": {
        "en": "Archived copy: scripts are disabled and nothing is loaded from the live web.",
        "ru": "Архивная копия: скрипты отключены, ничего не загружается из сети.",
    },
    "player": {"en": "Transcript player", "ru": "Плеер с расшифровкой"},
    "segments": {"en": "Transcript", "ru": "Расшифровка"},
    "no_transcript": {"en": "No transcript yet.", "ru": "Расшифровки пока нет."},
    "export": {"en": "Export WACZ package", "ru": "Экспорт пакета WACZ"},
    "verify": {"en": "Verify fixity now", "ru": "Проверить целостность"},
    "fixity": {"en": "Fixity of this capture", "ru": "Целостность захвата"},
    "fixity_ok": {"en": "every object intact", "ru": "все объекты целы"},
    "fixity_bad": {"en": "damage found", "ru": "обнаружены повреждения"},
    "object": {"en": "Object", "ru": "Объект"},
    "expected": {"en": "Recorded SHA-256", "ru": "Записанный SHA-256"},
    "actual": {"en": "SHA-256 now", "ru": "SHA-256 сейчас"},
    "archive_url": {"en": "Archive a URL", "ru": "Сохранить URL"},
    "archive_help": {
        "en": "The pages are captured now, like a scheduled source's, as captures of the"
        " built-in adhoc source; the custody log records who asked and why.",
        "ru": "Страницы сохраняются сейчас, как у источника по расписанию, как захваты"
        " встроенного источника adhoc; журнал хранения записывает, кто запросил и зачем.",
    },
    "archive_via_airflow": {
        "en": "Airflow's capture_urls DAG does the capturing.",
        "ru": "Захват выполняет DAG capture_urls в Airflow.",
    },
    "urls_to_archive": {"en": "URLs", "ru": "URL-адреса"},
    "urls_help": {
        "en": "One URL, or a pasted list: one URL a line (blank lines and # comments are"
        " skipped), or CSV with a url and a note column.",
        "ru": "Один URL или список: по одному URL в строке (пустые строки и комментарии #"
        " пропускаются) или CSV со столбцами url и note.",
    },
    "note": {"en": "Note", "ru": "Примечание"},
    "note_help": {
        "en": "Why these are preserved: kept in the custody log with each capture.",
        "ru": "Зачем это сохраняется: записывается в журнал хранения каждого захвата.",
    },
    "capture_kind": {"en": "Collector", "ru": "Сборщик"},
    "kind_auto": {"en": "auto (from the URL)", "ru": "авто (по URL)"},
    "kind_web": {"en": "web page", "ru": "веб-страница"},
    "kind_browser": {"en": "browser", "ru": "браузер"},
    "kind_telegram": {"en": "Telegram post", "ru": "пост Telegram"},
    "kind_video": {"en": "video", "ru": "видео"},
    "force_capture": {
        "en": "capture again even if recent",
        "ru": "захватить снова, даже если недавно",
    },
    "archive_now": {"en": "Archive now", "ru": "Сохранить сейчас"},
    "recent_jobs": {"en": "Recent requests", "ru": "Недавние запросы"},
    "no_jobs": {"en": "No requests yet.", "ru": "Запросов пока нет."},
    "urls": {"en": "URLs", "ru": "URL"},
    "job_state": {"en": "State", "ru": "Состояние"},
    "state_queued": {"en": "queued", "ru": "в очереди"},
    "state_running": {"en": "running", "ru": "выполняется"},
    "state_done": {"en": "done", "ru": "готово"},
    "refreshes": {"en": "this page refreshes itself", "ru": "страница обновляется сама"},
    "capture_job": {"en": "Capture request", "ru": "Запрос на захват"},
    "requested_by_who": {"en": "requested by {user}", "ru": "запросил(а) {user}"},
    "requested_by_via": {
        "en": "Requested by {user} via {via}",
        "ru": "Запросил(а) {user} через {via}",
    },
    "dag_run": {"en": "Airflow DAG run", "ru": "Запуск DAG в Airflow"},
    "line": {"en": "Line", "ru": "Строка"},
    "result": {"en": "Result", "ru": "Результат"},
    "line_captured": {"en": "captured", "ru": "захвачено"},
    "line_existing": {"en": "captured recently", "ru": "уже захвачено недавно"},
    "line_failed": {"en": "failed", "ru": "не удалось"},
    "line_waiting": {"en": "waiting", "ru": "ожидает"},
    "line_airflow": {"en": "sent to Airflow", "ru": "передано в Airflow"},
    "line_bad": {"en": "not a URL to capture", "ru": "не URL для захвата"},
    "line_repeat": {"en": "listed twice", "ru": "повтор"},
    "users": {"en": "Accounts", "ru": "Учётные записи"},
    "add_user": {"en": "Add account", "ru": "Добавить учётную запись"},
    "username": {"en": "Username", "ru": "Имя пользователя"},
    "password": {"en": "Password", "ru": "Пароль"},
    "role": {"en": "Role", "ru": "Роль"},
    "disabled": {"en": "disabled", "ru": "отключена"},
    "log_in": {"en": "Log in", "ru": "Войти"},
    "log_out": {"en": "Log out", "ru": "Выйти"},
    "signed_in_as": {"en": "Signed in as {user} ({role})", "ru": "Вы вошли как {user} ({role})"},
    "bad_login": {"en": "Wrong username or password.", "ru": "Неверное имя или пароль."},
    "too_many": {
        "en": "Too many failed attempts. Try again in {minutes} min.",
        "ru": "Слишком много неудачных попыток. Повторите через {minutes} мин.",
    },
    "busy": {
        "en": "Too many sign-ins at this moment. Try again in a second.",
        "ru": "Сейчас слишком много входов. Повторите через секунду.",
    },
    "not_found": {"en": "Not found", "ru": "Не найдено"},
    "forbidden": {"en": "Not allowed", "ru": "Нет доступа"},
    "bad_request": {"en": "Bad request", "ru": "Неверный запрос"},
    "language": {"en": "Русский", "ru": "English"},
}


def pick_language(query: str | None, cookie: str | None, accept: str) -> str:
    for choice in (query, cookie):
        if choice in LANGUAGES:
            return choice
    for part in accept.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in ("ru", "be", "uk"):
            return "ru"
        if code == "en":
            return "en"
    return "en"


def translate(lang: str, key: str, **values: object) -> str:
    text = STRINGS[key][lang]
    return text.format(**values) if values else text
