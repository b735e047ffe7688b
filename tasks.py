"""Tasks of this repository: `invoke --list`. Each collection lives in buildlib.tasks."""

from invoke import Collection

from buildlib.tasks import project

ns = Collection()
ns.add_task(project.info)
