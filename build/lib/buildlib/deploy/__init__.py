"""Deploy the service to systemd hosts behind nginx: render, check, roll out, roll back.

Modules, one job each:

- ``settings``: the ``deploy:`` section of build.yaml (schema and typed view);
- ``release``: which binary, version and checksum ``bin/manifest.json`` offers;
- ``render``: the unit, socket, nginx site and environment file (Jinja2, ``deploy/``);
- ``check``: ``systemd-analyze verify``/``security`` and ``nginx -t`` on a rendering;
- ``remote``: one SSH connection per host (Fabric), or a dry run that only prints;
- ``steps``: the shell commands a host runs, so a dry run prints exactly them;
- ``rollout``: batches, health gates, automatic rollback, safe interruption;
- ``status`` / ``rollback``: what each host serves; go back one release;
- ``load`` / ``lab`` / ``bench``: a bounded load generator, throw-away systemd
  containers and the benchmark that rolls out under load.

Importing this package stays cheap (build.yaml loading imports ``settings``);
Fabric and Jinja2 are imported by the modules that need them.
"""
