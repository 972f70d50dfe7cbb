"""pvmon: adverse-event pharmacovigilance monitor for the FDA FAERS extracts.

Data flows one way: faers -> lake -> cases -> signals/mechanism -> dashboards/reports.
Each stage reads the previous stage's files in the store (see ``pv.config``), never its
internals. Nothing in ``pv`` imports Airflow.
"""

__version__ = "0.1.0"

import logging as _logging

# Progress goes to the "pv" loggers; a scheduler's task log shows it, while the command line prints
# its own lines and no log record ever reaches the terminal by itself (a library's NullHandler).
_logging.getLogger("pv").addHandler(_logging.NullHandler())
