"""The benchmarks, and what only they and the tests use: none of it is imported by a user's build.

  build    `invoke bench`: the Go build matrix against plain go loops and the peers; a generated large project
  peers    Task and GoReleaser, given configurations equivalent to build.yaml's
  images   `invoke image.bench`: image sizes, rebuilds, parallel builds, reproducibility, and ko
  ko       ko, the image peer
  deploy   `nox -s deploy_bench`: a rolling deploy to lab hosts under load
  load     the HTTP load generator the deploy bench and tests run in a second process
  lab      throw-away deploy targets: containers with systemd, sshd and nginx
"""
