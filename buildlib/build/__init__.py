"""The Go build (`invoke build`): locked, content-addressed, parallel cross-builds of build.yaml's matrix.

In the order a run uses them:

- ``targets``: the matrix of build.yaml (binary x platform) and the ``--only`` selectors;
- ``stamp``: the version, commit and date a run stamps into its binaries;
- ``plan``: the recipe (flags and environment of every ``go`` command, shared by the images and the
  benchmark's peers) and, per target, whether it must be built and why;
- ``inputs``, ``keys``: the files a target reads (``go list``) and the content key they make;
- ``state``, ``manifest``: what the last run recorded (.build/build-state.json) and what bin/ holds
  (bin/manifest.json, with its typed reader for the steps after the build);
- ``preflight``, ``secretscan``: the checks before any compile (go version, module verify, tidy, the
  secrets an embedded file may carry);
- ``machine``, ``scheduler``, ``gobuild``: how many ``go build`` run at once, the step graph that runs
  them, and the compile step itself;
- ``builder``: one run, from build.yaml to the manifest; ``gocache``: the Go caches' keys and pruning.
"""
