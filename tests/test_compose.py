"""Structure of the production-shaped stack: docker-compose.yml, .env.example and the worker
image's Dockerfile.

No container engine runs where the tests run, so the stack is checked by construction: which
services exist, how they wait for each other, where state lives, that secrets only come from
.env, and that every OSINT_ARCHIVE_* variable it sets is one the code reads.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "docker" / "worker.Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
CODE_PACKAGES = ("archive", "index", "osint_archive", "collectors", "transcription")

AIRFLOW_SERVICES = (
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
)
ONE_SHOT_SERVICES = ("preflight", "minio-init", "es-certs", "es-setup", "airflow-init")
REQUIRED_SERVICES = (
    *AIRFLOW_SERVICES,
    "preflight",
    "es-setup",
    "postgres",
    "redis",
    "minio",
    "minio-init",
    "es-certs",
    "elasticsearch",
    "web",
)
# Where each state-holding service keeps its data.
STATE_PATHS = {
    "postgres": "/var/lib/postgresql/data",
    "redis": "/data",
    "minio": "/data",
    "elasticsearch": "/usr/share/elasticsearch/data",
}
SECRET_WORDS = ("PASSWORD", "SECRET", "KEY", "TOKEN", "FERNET")
PLACEHOLDER = "change-me"
# ${VAR} or ${VAR:?message} / ${VAR?message}: a reference that has no default value.
BARE_REFERENCE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(?::?\?[^}]*)?\}$")
REFERENCE_START = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*)")
# The password of scheme://user:password@host, where it may be a ${VAR:?message} reference.
URL_PASSWORD = re.compile(r"://[^\s:/@]*:((?:\$\{[^}]*\}|[^\s@/$])+)@")
OSINT_VARIABLE = re.compile(r"\bOSINT_ARCHIVE_[A-Z0-9_]*[A-Z0-9]\b")


def looks_secret(name: str) -> bool:
    """A variable whose value is a credential. ``*_FILE`` and Elasticsearch's ``*.ssl.key``
    name files, not secrets."""
    upper = name.upper()
    return any(word in upper for word in SECRET_WORDS) and not upper.endswith(("_FILE", ".SSL.KEY"))


def interpolated_names(text: str) -> set[str]:
    """Variables Compose substitutes in ``text``: ``$VAR`` and ``${VAR...}``, not ``$$``."""
    names: set[str] = set()
    position = 0
    while position < len(text):
        if text.startswith("$$", position):
            position += 2
            continue
        if text[position] == "$":
            match = REFERENCE_START.match(text, position + 1)
            if match:
                names.add(match.group(1) or match.group(2))
        position += 1
    return names


def interpolated_names_in(compose: dict[str, Any]) -> set[str]:
    return {name for text in strings_in(compose) for name in interpolated_names(text)}


def strings_in(node: Any) -> list[str]:
    """Every string in a parsed YAML tree, mapping keys included."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in strings_in(key) + strings_in(value)]
    if isinstance(node, list):
        return [s for item in node for s in strings_in(item)]
    return []


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a mapping, from either of Compose's two forms."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def volume_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of each volume of a service, short or long syntax."""
    mounts = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            mounts.append((str(entry.get("source", "")), str(entry["target"])))
        else:
            source, _, rest = str(entry).partition(":")
            mounts.append((source, rest.split(":")[0]) if rest else ("", source))
    return mounts


def is_named_volume(source: str) -> bool:
    return bool(source) and not source.startswith((".", "/", "~", "$"))


def command_text(service: dict[str, Any]) -> str:
    parts = []
    for key in ("entrypoint", "command"):
        value = service.get(key)
        parts.append(" ".join(value) if isinstance(value, list) else str(value or ""))
    return " ".join(parts)


def healthcheck_command(service: dict[str, Any]) -> str:
    test = (service.get("healthcheck") or {}).get("test")
    if isinstance(test, list):
        return " ".join(test[1:]) if test and test[0] in ("CMD", "CMD-SHELL") else ""
    return str(test or "")


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, separator, value = line.partition("=")
            assert separator, f"{path.name}: not NAME=value: {line!r}"
            values[name.strip()] = value.strip()
    return values


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    instructions = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def code_literals() -> str:
    """The Python sources of the packages, where the variables they read are named."""
    return "\n".join(
        path.read_text(encoding="utf-8")
        for package in CODE_PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    )


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "docker-compose.yml is not a YAML mapping"
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def long_running(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in services.items() if name not in ONE_SHOT_SERVICES}


def test_compose_file_follows_the_compose_spec(compose: dict[str, Any]) -> None:
    assert "version" not in compose, "the Compose spec has no top-level `version:`; remove it"
    assert compose.get("name"), "a fixed project `name:` keeps volume names stable"


def test_required_services_are_declared(services: dict[str, dict[str, Any]]) -> None:
    missing = [name for name in REQUIRED_SERVICES if name not in services]
    assert not missing, f"services missing from docker-compose.yml: {missing}"


def test_web_serves_the_ui_with_the_stack(services: dict[str, dict[str, Any]]) -> None:
    web = services["web"]
    assert not web.get("profiles"), "`osint-archive serve` exists: `web` starts with the stack"
    assert "serve" in command_text(web), "`web` must run `osint-archive serve`"
    assert "/healthz" in healthcheck_command(web), "the healthcheck needs no account: /healthz"


def test_long_running_services_have_healthchecks(
    long_running: dict[str, dict[str, Any]],
) -> None:
    without = [name for name, s in long_running.items() if not healthcheck_command(s).strip()]
    assert not without, f"long-running services without a healthcheck test command: {without}"


def test_long_running_services_restart_and_one_shots_do_not(
    services: dict[str, dict[str, Any]], long_running: dict[str, dict[str, Any]]
) -> None:
    not_restarted = [
        name
        for name, s in long_running.items()
        if s.get("restart") not in ("always", "unless-stopped", "on-failure")
    ]
    assert not not_restarted, f"long-running services without a restart policy: {not_restarted}"
    restarting = [
        name for name in ONE_SHOT_SERVICES if str(services[name].get("restart", "no")) != "no"
    ]
    assert not restarting, f"one-shot services must have restart: 'no': {restarting}"


def test_dependencies_wait_for_health_or_completion(
    services: dict[str, dict[str, Any]],
) -> None:
    wrong = []
    for name, service in services.items():
        depends_on = service.get("depends_on") or {}
        assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions, not a list"
        for dependency, spec in depends_on.items():
            expected = (
                "service_completed_successfully"
                if dependency in ONE_SHOT_SERVICES
                else "service_healthy"
            )
            if dependency not in services or (spec or {}).get("condition") != expected:
                wrong.append(f"{name} -> {dependency} (expected {expected})")
    assert not wrong, f"dependencies that do not wait properly: {wrong}"


def test_state_services_wait_for_the_preflight_check(
    services: dict[str, dict[str, Any]],
) -> None:
    def waits_for(name: str) -> set[str]:
        direct = set(services[name].get("depends_on") or {})
        return direct.union(*(waits_for(dependency) for dependency in direct))

    early = [name for name in STATE_PATHS if "preflight" not in waits_for(name)]
    assert not early, f"start before the change-me check (they keep first passwords): {early}"


def test_preflight_checks_every_secret(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    preflight = services["preflight"]
    assert PLACEHOLDER in command_text(preflight), "preflight must refuse change-me values"
    checked = {
        name for value in environment(preflight).values() for name in interpolated_names(value)
    }
    secrets = {name for name in interpolated_names_in(compose) if looks_secret(name)}
    assert not secrets - checked, f"secrets preflight does not check: {sorted(secrets - checked)}"


def test_airflow_services_share_the_common_image(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    common = compose["x-airflow-common"]
    assert common.get("image") and common.get("build"), "x-airflow-common needs image and build"
    differ = [
        name
        for name in AIRFLOW_SERVICES
        if (services[name].get("image"), services[name].get("build"))
        != (common["image"], common["build"])
    ]
    assert not differ, f"Airflow services not built from the anchor's image: {differ}"
    assert common["build"].get("dockerfile") == "docker/worker.Dockerfile"


def test_airflow_runs_the_celery_executor(services: dict[str, dict[str, Any]]) -> None:
    other = {
        name: environment(services[name]).get("AIRFLOW__CORE__EXECUTOR")
        for name in AIRFLOW_SERVICES
        if environment(services[name]).get("AIRFLOW__CORE__EXECUTOR") != "CeleryExecutor"
    }
    assert not other, f"Airflow services without AIRFLOW__CORE__EXECUTOR=CeleryExecutor: {other}"


def test_airflow_reaches_the_execution_api_and_the_project_dags(
    services: dict[str, dict[str, Any]],
) -> None:
    expected = {
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "http://airflow-apiserver:8080/execution/",
        "AIRFLOW__CORE__DAGS_FOLDER": "/opt/osint-archive/dags",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
    }
    wrong = [
        f"{name}: {key}={environment(services[name]).get(key)!r}"
        for name in AIRFLOW_SERVICES
        for key, value in expected.items()
        if environment(services[name]).get(key) != value
    ]
    assert not wrong, f"Airflow settings differ from {expected}: {wrong}"
    ports = [str(p) for p in services["airflow-apiserver"].get("ports", [])]
    assert any(p.endswith(":8080") for p in ports), "the api-server must publish port 8080"


def test_airflow_init_migrates_and_imports_pools(services: dict[str, dict[str, Any]]) -> None:
    script = command_text(services["airflow-init"])
    for step in (
        "airflow db migrate",
        "osint-archive sources pools",
        "airflow pools import",
    ):
        assert step in script, f"airflow-init does not run `{step}`"


def test_worker_is_scalable(services: dict[str, dict[str, Any]]) -> None:
    worker = services["airflow-worker"]
    fixed = [key for key in ("container_name", "ports", "hostname") if key in worker]
    assert not fixed, f"airflow-worker cannot be scaled with {fixed} set"
    assert "celery worker" in command_text(worker), "airflow-worker must run `celery worker`"


def test_volumes_in_use_are_declared(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    declared = set(compose.get("volumes") or {})
    undeclared = sorted(
        f"{name}: {source}"
        for name, service in services.items()
        for source, _ in volume_mounts(service)
        if is_named_volume(source) and source not in declared
    )
    assert not undeclared, f"named volumes not declared under top-level volumes: {undeclared}"


def test_declared_volumes_are_used(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    used = {source for s in services.values() for source, _ in volume_mounts(s)}
    unused = sorted(set(compose.get("volumes") or {}) - used)
    assert not unused, f"declared volumes no service mounts: {unused}"


def test_state_lives_on_named_volumes(services: dict[str, dict[str, Any]]) -> None:
    wrong = []
    for name, path in STATE_PATHS.items():
        sources = [source for source, target in volume_mounts(services[name]) if target == path]
        if not sources or not all(is_named_volume(source) for source in sources):
            wrong.append(f"{name}:{path} <- {sources or 'nothing'}")
    assert not wrong, f"state must be on a named volume (not a bind path): {wrong}"
    worker_targets = dict((t, s) for s, t in volume_mounts(services["airflow-worker"]))
    home = environment(services["airflow-worker"])["OSINT_ARCHIVE_HOME"]
    assert is_named_volume(worker_targets.get(home, "")), "OSINT_ARCHIVE_HOME needs a volume"
    assert is_named_volume(worker_targets.get("/opt/airflow/logs", "")), "logs need a volume"


def test_elasticsearch_runs_with_security_and_https(services: dict[str, dict[str, Any]]) -> None:
    env = {key: value.lower() for key, value in environment(services["elasticsearch"]).items()}
    for setting in ("xpack.security.enabled", "xpack.security.http.ssl.enabled"):
        assert env.get(setting) == "true", f"elasticsearch needs {setting}=true"
    check = healthcheck_command(services["elasticsearch"])
    for part in ("https://", "--cacert", "elastic:"):
        assert part in check, f"the elasticsearch healthcheck must use {part!r}: {check}"
    worker_env = environment(services["airflow-worker"])
    assert worker_env["OSINT_ARCHIVE_ES_URL"].startswith("https://"), "the pipeline needs https"
    ca = worker_env["OSINT_ARCHIVE_ES_CA_CERTS"]
    mounted = [t for _, t in volume_mounts(services["airflow-worker"]) if ca.startswith(t + "/")]
    assert mounted, f"OSINT_ARCHIVE_ES_CA_CERTS={ca} is on no volume of the worker"


def test_elasticsearch_client_matches_the_server_major(
    services: dict[str, dict[str, Any]],
) -> None:
    tag = str(services["elasticsearch"]["image"]).rpartition(":")[2]
    assert tag[:1].isdigit(), f"pin the Elasticsearch image to a version, not {tag!r}"
    server_major = int(tag.split(".")[0])
    pin = re.search(r"elasticsearch>=[\d.]+,<(\d+)", DOCKERFILE.read_text(encoding="utf-8"))
    assert pin, "the Dockerfile must pin the elasticsearch client below the next major"
    assert int(pin.group(1)) == server_major + 1, (
        f"client pinned <{pin.group(1)} but the server is {tag}: a newer client's "
        f"compatible-with header is refused by the older server"
    )


def test_minio_init_creates_a_locked_bucket_with_default_retention(
    services: dict[str, dict[str, Any]],
) -> None:
    script = command_text(services["minio-init"])
    assert re.search(r"mc mb [^\n]*--with-lock", script), "create the bucket with object lock"
    mode = r"(COMPLIANCE|\$\{OSINT_ARCHIVE_S3_RETENTION_MODE:-COMPLIANCE\})"
    assert re.search(rf"mc retention set --default {mode} \S+d ", script), (
        "set a default retention on the bucket: mc retention set --default COMPLIANCE <days>d"
    )


def test_secrets_are_references_not_literals(services: dict[str, dict[str, Any]]) -> None:
    literal = [
        f"{name}: {key}={value!r}"
        for name, service in services.items()
        for key, value in environment(service).items()
        if looks_secret(key) and not BARE_REFERENCE.match(value)
    ]
    assert not literal, f"secrets must be ${{VAR}} or ${{VAR:?message}} from .env: {literal}"


def test_credentials_in_urls_are_references(compose: dict[str, Any]) -> None:
    passwords = [
        (text, password) for text in strings_in(compose) for password in URL_PASSWORD.findall(text)
    ]
    assert passwords, "no URL with credentials found: the pattern or the file changed"
    literal = [text for text, password in passwords if not BARE_REFERENCE.match(password)]
    assert not literal, f"passwords inside URLs must be ${{VAR}} references: {literal}"


def test_every_interpolated_variable_is_in_env_example(compose: dict[str, Any]) -> None:
    missing = sorted(interpolated_names_in(compose) - set(read_env_file(ENV_EXAMPLE)))
    assert not missing, f"variables docker-compose.yml uses but .env.example lacks: {missing}"


def test_env_example_has_no_unused_variables(compose: dict[str, Any]) -> None:
    unused = sorted(set(read_env_file(ENV_EXAMPLE)) - interpolated_names_in(compose))
    assert not unused, f".env.example variables docker-compose.yml never uses: {unused}"


def test_env_example_holds_placeholders_only() -> None:
    real = [
        f"{name}={value}"
        for name, value in read_env_file(ENV_EXAMPLE).items()
        if (looks_secret(name) and value and not value.startswith(PLACEHOLDER))
        or (PLACEHOLDER not in value and re.search(r"[A-Za-z0-9+/=_-]{24,}", value))
    ]
    assert not real, f".env.example must hold {PLACEHOLDER}-... placeholders, not: {real}"


def test_dockerfile_installs_chromium_and_ffmpeg() -> None:
    runs = [args for keyword, args in dockerfile_instructions(DOCKERFILE) if keyword == "RUN"]
    installs = [run for run in runs if "apt-get install" in run]
    assert installs, "the Dockerfile installs no Debian packages"
    for package in ("chromium", "ffmpeg"):
        assert any(re.search(rf"\s{package}(\s|$)", run) for run in installs), (
            f"the Dockerfile does not apt-get install {package}"
        )
    for run in installs:
        assert "--no-install-recommends" in run, "apt-get install without --no-install-recommends"
        assert "rm -rf /var/lib/apt/lists" in run, "apt lists must be removed in the same layer"


def test_dockerfile_installs_the_project_and_its_chromium_path() -> None:
    text = " ".join(args for _, args in dockerfile_instructions(DOCKERFILE))
    assert "/opt/osint-archive[airflow]" in text, "pip install /opt/osint-archive[airflow]"
    assert "OSINT_ARCHIVE_CHROMIUM=/usr/bin/chromium" in text, "set OSINT_ARCHIVE_CHROMIUM"


def test_dockerfile_does_not_end_as_root() -> None:
    users = [args for keyword, args in dockerfile_instructions(DOCKERFILE) if keyword == "USER"]
    assert users, "the Dockerfile never sets USER: the image would run as root"
    final = users[-1].split(":")[0]
    assert final not in ("root", "0"), f"the image ends as USER {users[-1]}, root"


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    patterns = {
        line.strip().lstrip("/")
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    missing = sorted({".env", ".git", ".venv", "data"} - patterns)
    assert not missing, f".dockerignore must exclude {missing}"


def test_osint_archive_variables_are_read_by_the_code(compose: dict[str, Any]) -> None:
    named = {
        name
        for text in [
            *strings_in(compose),
            DOCKERFILE.read_text(encoding="utf-8"),
            *read_env_file(ENV_EXAMPLE),
        ]
        for name in OSINT_VARIABLE.findall(text)
    }
    assert named, "no OSINT_ARCHIVE_* variable found: the pattern or the files changed"
    code = code_literals()
    unknown = sorted(name for name in named if not re.search(rf"[\"']{name}[\"']", code))
    assert not unknown, (
        f"OSINT_ARCHIVE_* variables no module under {', '.join(CODE_PACKAGES)} reads "
        f"(as a string literal): {unknown}"
    )
