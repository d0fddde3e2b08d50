"""fleetwarden: lifecycle security management for connected devices.

The public surface is the CLI (``fleetwarden``) and the HTTP API; Python callers
should go through :mod:`fleetwarden.bootstrap`.
"""

__version__ = "0.1.0"
