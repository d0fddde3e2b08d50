"""Synthetic demo estate of a fictional police force, for ``fleetwarden demo`` and benchmarks.

The guideline asks for testing in a simulated live environment with synthetic data only
(R18), so nothing here may name a real person, use a real mailbox or address a real
network: people are role mailboxes on ``.example`` and every address is on loopback.
"""

from fleetwarden.adapters.demo.estate import DemoEstate, generate_demo_estate, iter_device_rows

__all__ = ["DemoEstate", "generate_demo_estate", "iter_device_rows"]
