"""The ``index`` DAG: search index of what crawls and transcription stored (Airflow assets).

DAG files are named apart from the project's packages (``index``, ``archive`` …): Airflow
puts this folder first on ``sys.path``.
"""

from osint_archive.scheduling.airflow_dags import index_dag

dag = index_dag()
