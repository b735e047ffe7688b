"""Build, package and deploy a Gin service from one build.yaml."""

from .config import Project, load
from .errors import (
                     BuildlibError,
                     CheckFailed,
                     ConfigError,
                     InputError,
                     Interrupted,
                     OutputError,
                     RunFailed,
                     SelectionError,
                     ToolError,
)

__all__ = ["BuildlibError", "CheckFailed", "ConfigError", "InputError", "Interrupted", "OutputError", "Project",
           "RunFailed", "SelectionError", "ToolError", "load"]
