"""CRAYFIS network backend: the Django project and the domain core (wire, coincidence, simulator)."""
