"""Cryptographic adapters: keys and signatures kept outside the database.

Wraps the ``cryptography`` library; must not hold business rules (what to sign and
when is decided in ``domain``/``services``) and must never put key material in
exceptions or logs.
"""
