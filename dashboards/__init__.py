"""gridmap's dashboard: compliance maps a planner can explore offline.

Dash with a vendored MapLibre GL JS; nothing is fetched from the internet.

``create_app(config)`` builds the app; ``gridmap serve [CONFIG.toml]`` runs it.
"""

from dashboards.app import create_app
from dashboards.provider import DashboardProvider

__all__ = ["create_app", "DashboardProvider"]
