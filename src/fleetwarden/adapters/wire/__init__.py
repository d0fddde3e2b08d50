"""Hand-written wire formats shared by the lab and discovery.

Encoding and decoding primitives only (``ber`` for SNMP's BER, ``mqtt`` for MQTT's
framing): pure functions over bytes and values, so the lab's simulated devices and the
discovery scanner's probes read and write the same octets the same way.

Must not: open sockets, know about devices or scans, or hold protocol logic (an agent's
MIB, a probe's requests); that stays with the lab and discovery modules that use these.
"""
