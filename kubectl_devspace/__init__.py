"""kubectl devspace: isolated, persistent development spaces on a shared cluster."""

__version__ = "0.1.0"
