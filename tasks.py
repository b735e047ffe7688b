"""Tasks of this repository: `invoke --list`. Each collection lives in buildlib.tasks."""
# ruff: noqa: E402 - the imports come after the bytecode setting, which must precede them

import sys

# invoke turns bytecode caching off before it reads this file (its --write-pyc flag), so every
# module of the kit would be compiled from source on every run: most of a no-op build's time.
# Python 3 never imports a __pycache__ file without its source, the stale-file trouble invoke
# guards against; -B and PYTHONDONTWRITEBYTECODE still turn it off.
sys.dont_write_bytecode = bool(sys.flags.dont_write_bytecode)

from invoke import Collection

from buildlib.tasks import build as build_tasks
from buildlib.tasks import cache as cache_tasks
from buildlib.tasks import debt as debt_tasks
from buildlib.tasks import deploy as deploy_tasks
from buildlib.tasks import env as env_tasks
from buildlib.tasks import image as image_tasks
from buildlib.tasks import init as init_tasks
from buildlib.tasks import monitor as monitor_tasks
from buildlib.tasks import project
from buildlib.tasks import release as release_tasks
from buildlib.tasks import report as report_tasks

ns = Collection()
ns.add_task(project.info)
ns.add_task(build_tasks.build)
ns.add_task(build_tasks.bench)
ns.add_collection(cache_tasks.ns)
ns.add_collection(image_tasks.ns, "image")
ns.add_collection(deploy_tasks.ns, "deploy")
ns.add_collection(monitor_tasks.ns, "monitor")
ns.add_task(env_tasks.env)
ns.add_task(debt_tasks.debt)
ns.add_task(init_tasks.init)
ns.add_task(report_tasks.report)
ns.add_task(release_tasks.release)
# buildlib.config: another build.yaml, e.g. `invoke -f ci.yaml build` with
# `buildlib: {config: ci/build.yaml}` in ci.yaml; None finds build.yaml from the current directory.
ns.configure({"buildlib": {"config": None}})
