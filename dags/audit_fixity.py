"""The ``audit`` DAG: the weekly fixity audit of the whole archive."""

from osint_archive.scheduling.airflow_dags import audit_dag

dag = audit_dag()
