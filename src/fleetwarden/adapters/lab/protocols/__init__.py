"""The lab's protocol personalities, keyed by service (an explicit registry, no magic).

TLS services reuse the plain protocol's handler: the runtime does the TLS.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fleetwarden.adapters.lab.protocols import (
    debug,
    ftp,
    http,
    mdns,
    modbus,
    mqtt,
    rtsp,
    snmp,
    ssdp,
    ssh,
    telnet,
)
from fleetwarden.adapters.lab.protocols.base import LabContext, TcpHandler, UdpHandler
from fleetwarden.domain.lab import LabDevice, LabService, Service

TCP_HANDLERS: Mapping[Service, TcpHandler] = {
    Service.HTTP: http.serve_http,
    Service.HTTPS: http.serve_http,
    Service.UPNP: http.serve_upnp,
    Service.RTSP: rtsp.serve_rtsp,
    Service.TELNET: telnet.serve_telnet,
    Service.FTP: ftp.serve_ftp,
    Service.MQTT: mqtt.serve_mqtt,
    Service.MQTTS: mqtt.serve_mqtt,
    Service.MODBUS: modbus.serve_modbus,
    Service.DEBUG: debug.serve_debug,
}

UDP_HANDLERS: Mapping[Service, UdpHandler] = {
    Service.SNMP: snmp.answer_snmp,
    Service.SSDP: ssdp.answer_ssdp,
    Service.MDNS: mdns.answer_mdns,
}

#: Services whose library runs its own listener (asyncssh does the SSH transport).
OWN_SERVERS: Mapping[Service, Callable[[LabDevice, LabService, LabContext], Awaitable[Any]]] = {
    Service.SSH: ssh.start_ssh,
}
