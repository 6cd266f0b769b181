"""The ``capture_urls`` DAG: on-demand captures of the URLs given in a triggered run's conf."""

from osint_archive.scheduling.airflow_dags import capture_urls_dag

dag = capture_urls_dag()
