"""build.yaml's feature sections: the schema of each, one module per section, and nothing else.

config.py holds the core keys (project, binaries, platforms, profiles, build, cache); these follow,
in this order. A section module imports only the schema vocabulary, so reading build.yaml costs
none of the code that acts on a section: each area builds its typed view (deploy.settings,
images.settings, ...) from the validated values when one of its tasks runs.
"""

from ..schema import Field
from . import debt, deploy, environments, images, monitoring, release, service

SECTIONS: dict[str, Field] = {
    "debt": debt.SECTION,
    "environments": environments.SECTION,
    "service": service.SECTION,
    "deploy": deploy.SECTION,
    "images": images.SECTION,
    "monitoring": monitoring.SECTION,
    "release": release.SECTION,
}
