"""What the tests share besides fixtures (those live in the conftest.py files).

support: the repository, invoke runs, free ports, waits; builds, images: the build's and the images'
own checks; deploylab, pushlab: the systemd hosts and the registry labs; ginapps: Gin repositories in
many shapes; released: release runs; secret_fixtures: planted secrets.
"""
