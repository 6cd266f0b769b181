"""The ``transcribe`` DAG: speech recognition of what crawls captured (Airflow asset)."""

from osint_archive.scheduling.airflow_dags import transcribe_dag

dag = transcribe_dag()
