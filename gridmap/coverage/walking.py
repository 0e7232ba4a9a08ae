"""Walking distances for coverage: households and facilities on the network, one Dijkstra per type.

The facilities are snapped first and one multi-source Dijkstra per facility
type starts at once (in worker processes on a large network,
:func:`gridmap.network.dijkstra_groups`) while the households are snapped.
With ``policy="own"`` each community's facilities are searched separately.
Network defects and points too far from any street become problems.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from geopandas import GeoDataFrame
from scipy import sparse

from gridmap._errors import Problem
from gridmap.network import (
    GAP_REPORT_M,
    Network,
    Snap,
    augmented_graph,
    build_network,
    dijkstra_from,
    dijkstra_groups,
    snap_points,
    target_distances,
)
from gridmap.network.parallel import PendingRun
from gridmap.osm import LEVEL

__all__ = ["WalkingDistances", "study_network", "network_problems"]


def study_network(
    lines: GeoDataFrame,
    *,
    node: bool,
    level_column: str | None,
    components: str,
    close_gaps_m: float,
) -> Network:
    """The walking network of a study's line layer (an OSM extract's levels are used)."""
    if level_column is None and LEVEL in lines.columns:  # an OSM extract: bridges and tunnels
        level_column = LEVEL
    return build_network(
        lines,
        node=node,
        level_column=level_column,
        components=components,
        close_gaps_m=close_gaps_m,
    )


@dataclass
class WalkingDistances:
    """Households and facilities snapped to one network, with the per-type Dijkstra runs started.

    Build with :meth:`start`; :meth:`distances` gives each household's walking
    distance to the nearest facility of a type.
    """

    net: Network
    households: Snap
    facilities: Snap
    graph: sparse.csr_matrix
    sources: np.ndarray
    runs: dict[str, PendingRun]

    @classmethod
    def start(
        cls,
        net: Network,
        facility_xy: np.ndarray,
        facility_types: np.ndarray,
        household_xy: np.ndarray,
        limits: list[tuple[str, float]],
        *,
        max_snap_m: float,
        per_type: bool = True,
    ) -> WalkingDistances:
        """Snap the facilities, start one Dijkstra per ``(type, limit)``, snap the households.

        ``per_type=False`` (``policy="own"``): no runs are started; the
        distances are computed per community by :meth:`distances`.
        """
        fsnap = snap_points(net, facility_xy, max_snap_m=max_snap_m)
        graph, full = augmented_graph(net, fsnap)
        runs: dict[str, PendingRun] = {}
        # one Dijkstra run per facility type, started before the households are snapped: on a
        # large network they run in worker processes meanwhile
        if per_type:
            started = dijkstra_groups(
                net,
                graph,
                [(np.flatnonzero((facility_types == f) & fsnap.ok), lim) for f, lim in limits],
                all_sources=full,
            )
            runs = {f: r for (f, _), r in zip(limits, started, strict=True)}
        # each record once (its rows share its point)
        hsnap = snap_points(net, household_xy, max_snap_m=max_snap_m)
        if runs:  # what every type's distances start from, also while the runs are in workers
            hsnap.legs(net)
        return cls(net, hsnap, fsnap, graph, full, runs)

    def distances(
        self,
        facility_type: str,
        selected: np.ndarray,
        limit: float,
        *,
        facility_groups: np.ndarray | None = None,
        household_groups: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Walking distance of each household to the nearest ``selected`` facility.

        With groups (community ids), a household only reaches the facilities of
        its own group.

        Returns
        -------
        dist : ndarray (``inf`` beyond ``limit`` or when unreachable)
        nearest : ndarray of int (facility position, -1 when none)
        """
        net, hsnap, fsnap = self.net, self.households, self.facilities
        mask = selected & fsnap.ok
        if facility_groups is None or household_groups is None:
            node_d, node_src = self.runs[facility_type].result()
            return target_distances(
                net, hsnap, fsnap, node_d, node_src, limit=limit, source_mask=mask
            )
        d = np.full(len(hsnap.edge), np.inf)
        i = np.full(len(hsnap.edge), -1, dtype=np.int64)
        fc = pd.Series(facility_groups)
        hc = pd.Series(household_groups)
        for key, hrows in hc.groupby(hc, sort=False).indices.items():
            m = mask & (fc == key).to_numpy()
            if not m.any():
                continue
            node_d, node_src = dijkstra_from(
                net, self.graph, np.flatnonzero(m), limit=limit, all_sources=self.sources
            )
            dd, ii = target_distances(
                net, hsnap.subset(hrows), fsnap, node_d, node_src, limit=limit, source_mask=m
            )
            d[hrows], i[hrows] = dd, ii
        return d, i


def network_problems(
    net: Network,
    hsnap: Snap,
    fsnap: Snap,
    rows: pd.DataFrame,
    fac_ids: np.ndarray,
    max_snap_m: float,
) -> list[Problem]:
    """What the coverage report says about the network and the points it could not reach."""
    out = [*_defects(net)]
    far = ~hsnap.ok
    if far.any():
        n = int(rows.loc[far, "households"].sum())
        out.append(
            Problem(
                "warning",
                "coverage.snap_far",
                f"{int(far.sum())} 条户数记录（{n:,} 户）距最近道路超过 "
                f"{max_snap_m:g} 米，无法接入步行路网，按路网计为未覆盖",
                fix="补全路网，或调大最大接入距离 (max_snap_m / --max-snap)",
                extra={"records": rows.loc[far, "record"].astype(str).tolist()[:1000]},
            )
        )
    ffar = ~fsnap.ok
    if ffar.any():
        out.append(
            Problem(
                "warning",
                "coverage.facility_snap_far",
                f"{int(ffar.sum())} 个设施距最近道路超过 {max_snap_m:g} 米，按路网不计入覆盖",
                fix="补全路网或核对设施位置",
                extra={"facilities": list(np.asarray(fac_ids)[ffar][:1000])},
            )
        )
    return out


def _defects(net: Network) -> list[Problem]:
    """Disconnected parts, noded crossings, closed and open gaps of the network."""
    out = []
    comps = net.components
    if len(comps) > 1:
        small = comps.iloc[1:]
        verb = "已删除" if comps["dropped"].any() else "保留（其上的住户只能到达同一片段内的设施）"
        out.append(
            Problem(
                "warning",
                "network.components",
                f"步行路网有 {len(comps)} 个互不连通的部分：最大部分 "
                f"{int(comps.iloc[0]['nodes'])} 个节点；"
                f"其余 {len(small)} 个共 {int(small['edges'].sum())} 条边、"
                f"{small['length_m'].sum():,.0f} 米，{verb}",
                fix="检查路网是否缺少连接段；或用 components='largest' 删除孤立片段",
                extra={"components": comps.reset_index().to_dict("records")},
            )
        )
    if net.noded:
        out.append(
            Problem(
                "info",
                "network.noded",
                f"路网中 {net.noded} 条线在交叉处没有共同节点，已自动打断（noding）",
                fix="无需处理 (noded automatically)；立交桥/隧道请用 level_column 指定层级列",
            )
        )
    if net.gaps_closed:
        out.append(
            Problem(
                "info",
                "network.gaps_closed",
                f"路网中 {net.gaps_closed} 处道路端点差一点没接上另一条道路"
                "（未接上的路口），已自动连接",
                fix="无需处理 (connected automatically, close_gaps_m)",
            )
        )
    if len(net.gaps):
        g = net.gaps
        out.append(
            Problem(
                "warning",
                "network.gaps",
                f"路网中 {len(g)} 处道路端点距另一条道路不足 {GAP_REPORT_M:g} 米"
                f"却没有相连（疑似未接上的路口，最近 {g['gap_m'].min():.3g} 米），"
                "经过这些缺口的步行距离可能被高估",
                fix="核对路网数据；或用 --close-gaps 米数（如 3）自动连接不超过该距离的缺口",
                extra={"gaps": g.round(2).head(1000).to_dict("records")},
            )
        )
    return out
