"""The compliance check: assign, measure, evaluate, and write the contract outputs.

- :mod:`gridmap.check.run`: :func:`check`, the named stages of one check with their timings;
- :mod:`gridmap.check.result`: :class:`CheckResult`, what a check found, its summary and the
  writers of the contract files (CSV, summary.json, result.gpkg);
- :mod:`gridmap.check.tables`: the units, findings and problems as the contract's tables;
- :mod:`gridmap.check._background`: the steps that run on threads of their own.

>>> import gridmap
>>> from gridmap import datasets
>>> study = gridmap.read_study(**datasets.demo_config())
>>> result = gridmap.check(study, profile="national")
>>> failing = result.findings.query("status == 'fail' and rule_id == 'community.size'")
>>> len(failing)
10
>>> failing.message.iloc[0]
'超出上限 399 户'
"""

from gridmap.check.result import CheckResult
from gridmap.check.run import check

__all__ = ["check", "CheckResult"]
