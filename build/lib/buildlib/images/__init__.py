"""Container images of the service: three runtime variants built with BuildKit.

Modules, by what they do:
  settings    the `images:` section of build.yaml
  engine      which docker client can build with BuildKit; is an engine there
  bases       local base images from Debian packages and the host Go toolchain
  rootfs      a root file system written as a deterministic tar (for bases)
  dockerfile  docker/Dockerfile as BuildKit gets it (cache ids per project)
  modseed     the host's module cache as a GOPROXY tree, for builds without network
  build       build variants (in-docker or prebuilt), in parallel
  buildlog    the failing step and its output, from BuildKit's plain log
  normalise   rewrite an image so the same input gives the same image ID
  layers      read an image's layers from `docker save`
  sizes       size report and budgets
  policy      non-root, no shell, no secrets, a healthcheck
  check       sizes and policy together, as tables or JSON
  cache       what the BuildKit cache mounts hold; clear this project's part
  smoke       run a container: /healthz, healthy, SIGTERM
  bench       the figures in the README
  errors      typed errors with what to do
"""
