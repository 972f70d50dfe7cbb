"""pvmon: adverse-event pharmacovigilance monitor for the FDA FAERS extracts.

Data flows one way: faers -> lake -> cases -> signals/mechanism -> dashboards/reports.
Each stage reads the previous stage's files in the store (see ``pv.config``), never its
internals. Nothing in ``pv`` imports Airflow.
"""

__version__ = "0.1.0"
