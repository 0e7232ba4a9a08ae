"""gridmap: geospatial analytics for China's urban grid management (网格化管理).

Read community (社区) and grid (网格) layers with households and facilities,
check them against the standard that applies (``national`` or a local
profile), and write findings a planner can defend line by line.

>>> import gridmap
>>> gridmap.list_profiles()[:2]
['chengdu-2002', 'gb50180-2018']
"""

from typing import TYPE_CHECKING

from gridmap._errors import GeographicCRSError, InputError, Problem
from gridmap._lazy import lazy_package
from gridmap._version import __version__

if TYPE_CHECKING:
    from gridmap.check import CheckResult, check
    from gridmap.plans import Plan, list_plans, load_plan
    from gridmap.rules import Profile, Rule, evaluate, list_profiles, load_profile
    from gridmap.study import Study, load_config, read_study

__all__ = [
    "__version__",
    "CheckResult",
    "GeographicCRSError",
    "InputError",
    "Plan",
    "Problem",
    "Profile",
    "Rule",
    "Study",
    "check",
    "evaluate",
    "list_plans",
    "list_profiles",
    "load_plan",
    "load_config",
    "load_profile",
    "read_study",
]

# the analysis stack (pandas, geopandas, OR-Tools) loads on first use, not for `gridmap --help`
lazy_package(
    __name__,
    {
        "CheckResult": "gridmap.check",
        "check": "gridmap.check",
        "Plan": "gridmap.plans",
        "list_plans": "gridmap.plans",
        "load_plan": "gridmap.plans",
        "Profile": "gridmap.rules",
        "Rule": "gridmap.rules",
        "evaluate": "gridmap.rules",
        "list_profiles": "gridmap.rules",
        "load_profile": "gridmap.rules",
        "Study": "gridmap.study",
        "load_config": "gridmap.study",
        "read_study": "gridmap.study",
    },
)
