"""gridmap's dashboard: compliance maps a planner can explore offline (Dash + vendored MapLibre GL JS).

``create_app(config)`` builds the app; ``gridmap serve [CONFIG.toml]`` runs it.
"""

from dashboards.app import create_app
from dashboards.provider import DashboardProvider

__all__ = ["create_app", "DashboardProvider"]
