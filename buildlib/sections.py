"""Feature modules that add a section to build.yaml; importing one registers it."""
