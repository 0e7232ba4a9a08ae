"""One module per page, each with ``layout(provider, lang, query)`` and ``register(app, provider)``.

Pages draw what the provider (:class:`dashboards.provider.DashboardProvider`) returns;
they never call gridmap themselves.
"""

from dashboards.pages import changes, compliance_map, coverage, findings, overview, plans

#: page key -> module, in navigation order
PAGE_MODULES = {
    "overview": overview,
    "map": compliance_map,
    "coverage": coverage,
    "findings": findings,
    "plans": plans,
    "changes": changes,
}

__all__ = ["PAGE_MODULES"]
