"""Concrete I/O behind the ports: database, crypto, demo data, later discovery and feeds."""
