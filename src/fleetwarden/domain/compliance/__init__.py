"""Compliance: control catalogues, check results, attestations, waivers (R8, R9).

Pure values and rules. Catalogues and check sidecars are data read by adapters; nothing
here opens a file, a socket or a session.
"""
