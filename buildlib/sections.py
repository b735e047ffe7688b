"""Feature modules that add a section to build.yaml; importing one registers it."""

from . import debt, environments, service  # noqa: F401
from .deploy import settings as deploy_settings  # noqa: F401
from .images import settings as images_settings  # noqa: F401
from .monitor import settings as monitor_settings  # noqa: F401
from .release import settings as release_settings  # noqa: F401
