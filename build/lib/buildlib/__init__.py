"""Build, package and deploy a Gin service from one build.yaml."""

from .config import Project, load
from .errors import BuildlibError, ConfigError, SelectionError, ToolError

__all__ = ["BuildlibError", "ConfigError", "Project", "SelectionError", "ToolError", "load"]
