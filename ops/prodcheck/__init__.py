"""`make prod-check`: the production topology on one machine, run for real (docs/deploy.md)."""
