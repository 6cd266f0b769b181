"""What Airflow runs: the pipeline's stages as tasks (crawl one source, transcribe one media
file, index what runs captured, audit), their failures sorted into transient and permanent,
the pools they queue in and the health record behind the overdue alerts.

Everything here but ``airflow_dags`` works without Airflow installed; the DAG files under
``dags/`` only wire these functions together.
"""
