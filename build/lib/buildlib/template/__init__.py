"""Start a new service from this repository (``invoke init``) or bring the kit into an existing one
(``invoke init --adopt``)."""
