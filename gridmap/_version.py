"""The installed gridmap version (one place; read by the package, the CLI and every output that names its generator)."""

__version__ = "0.1.0"
