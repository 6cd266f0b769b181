"""One crawl DAG per source in ``config/sources.yaml`` (``OSINT_ARCHIVE_CONFIG``): dag_id
``crawl_<source id>``. An invalid sources file shows as this file's import error, naming the
file, line and field; the transcribe, index and audit DAGs live in their own files and load."""

from osint_archive.scheduling.airflow_dags import crawl_dags

globals().update(crawl_dags())
