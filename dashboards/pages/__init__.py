"""One module per page; each has ``layout(provider, lang, query=None)`` and ``register(app, provider)``."""

from dashboards.pages import compliance_map, coverage, findings, overview, plans

#: page key -> module, in navigation order
PAGE_MODULES = {"overview": overview, "map": compliance_map, "coverage": coverage, "findings": findings, "plans": plans}

__all__ = ["PAGE_MODULES"]
