"""Plans: an assignment of units to communities, its edit journal, evaluation and storage.

A :class:`Plan` starts from the as-is assignment of units (grids by default;
小区/blocks where given) to communities and records every edit in an
**append-only journal** (time, author, op, params, changes, comment). Undo and
redo are journal entries too, so any plan can be replayed and audited. KPIs are
kept per community and updated only for the communities an edit touches, so a
dashboard can drive a plan interactively.

A plan is evaluated under a rule **profile** (``Plan(..., profile=...)``;
:meth:`Plan.from_check` takes the check's): the household band and its
exemption (:attr:`Plan.band`) and every community rule come from it, and
:meth:`Plan.kpis`, :meth:`Plan.communities` and :meth:`Plan.findings` run the
check's own evaluation (:func:`gridmap.evaluation.evaluate_units`) on the plan's
communities — households outside every unit included — so an unedited plan
reports exactly what the check reports.

Plans live in a **workspace**: a GeoPackage (any ``.gpkg``; created when missing, the
zero-setup default) or a PostGIS database shared by a city's planners
(``postgresql://user@host/db?schema=gridmap``; :func:`open_store` picks the store), in three
tables:

``plans``
    one row per plan: id, name, author, times, CRS, unit kind, digest, rule profile, version.
``assignments``
    one row per plan × unit: base and current community, households, geometry.
``edit_journal``
    one row per journal entry; rows are only ever appended (the database refuses the rest).

:meth:`Plan.save` writes all three in **one transaction**: a process killed mid-save leaves
the last saved plan intact, and :func:`load_plan` verifies the stored assignment against its
digest and against a replay of the journal. Creating the workspace is part of that transaction,
so two first saves into a workspace that does not exist yet keep both plans. Each save makes a
new **version** of the plan; a copy saved after someone else saved the same plan is refused
with :class:`PlanConflict`, naming who saved, when and which units they changed:
:meth:`Plan.rebase` re-applies this copy's edits on theirs when both changed different units,
:meth:`Plan.save_as` keeps it under a new name. A street can plan its communities in a
:func:`subplan`; :func:`merge_subplans` brings sub-plans back, listing conflicts.

The package, by module:

- :mod:`~gridmap.plans.state`: what a plan holds (units, as-is and current community, profile);
- :mod:`~gridmap.plans.evaluation`: KPIs, the community table and findings under the profile;
- :mod:`~gridmap.plans.outputs`: the change list, boundaries, audit trail, exported files;
- :mod:`~gridmap.plans.plan`: :class:`Plan` itself — edits, undo / redo, the rebalancer
  (:meth:`Plan.rebalance`, :meth:`Plan.redraw`, via :mod:`~gridmap.plans.rebalancing`) —
  and :func:`load_plan`;
- :mod:`~gridmap.plans.storage`: the store interface and :func:`open_store`;
  :mod:`~gridmap.plans.records`: the rows every store writes, :class:`PlanConflict`;
- :mod:`~gridmap.plans.geopackage`: the GeoPackage store; :mod:`~gridmap.plans.workspace`: the
  GeoPackage file, created race-free, full or read-only disks reported as such;
- :mod:`~gridmap.plans.postgis`: the PostGIS store (migrations, row locks, SRIDs);
- :mod:`~gridmap.plans.merging`: rebasing a copy's edits; :mod:`~gridmap.plans.subplans`:
  sub-plans and their merge;
- :mod:`~gridmap.plans.drafts` (:mod:`~gridmap.plans.draft_tables`): unsaved dashboard plans
  kept in the workspace per user and tab.

Examples
--------
>>> import os
>>> import tempfile
>>> import gridmap
>>> import gridmap.datasets
>>> result = gridmap.check(gridmap.read_study(**gridmap.datasets.demo_config()))
>>> plan = Plan.from_check(result, name="调整方案一", author="张三")
>>> plan.band
SizeBand(min=1000, max=3000, exempt_min_if='sparse', rule_id='community.size')
>>> plan.kpis()["too_large"], plan.kpis()["too_small"]
(6, 4)
>>> edit = plan.move(["330106001001002"], "330106001002", comment="试移")
>>> edit.ok, plan.kpis()["units_moved"]
(True, 1)
>>> _ = plan.undo()
>>> plan.kpis()["units_moved"]
0
>>> ws = os.path.join(tempfile.mkdtemp(), "workspace.gpkg")
>>> _ = plan.save(ws)
>>> load_plan(ws, "调整方案一").audit()["op"].tolist()
['move', 'undo']
"""

from gridmap.plans.evaluation_cache import EvaluationCache
from gridmap.plans.outputs import CHANGE_COLUMNS_ZH
from gridmap.plans.plan import Plan, load_plan
from gridmap.plans.storage import (
    PlanConflict,
    as_workspace,
    list_plans,
    open_store,
    workspace_stamp,
)
from gridmap.plans.subplans import MergeResult, merge_subplans, subplan
from gridmap.plans.turns import Turns
from gridmap.plans.workspace import WorkspaceError

__all__ = [
    "EvaluationCache",
    "Turns",
    "Plan",
    "PlanConflict",
    "WorkspaceError",
    "load_plan",
    "list_plans",
    "open_store",
    "as_workspace",
    "workspace_stamp",
    "subplan",
    "merge_subplans",
    "MergeResult",
    "CHANGE_COLUMNS_ZH",
]
