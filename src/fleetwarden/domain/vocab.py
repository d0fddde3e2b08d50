"""Fixed vocabularies. The spellings are part of the CLI/API contract: extend, never rename."""

from __future__ import annotations

from enum import StrEnum


class DeviceType(StrEnum):
    CCTV_CAMERA = "cctv_camera"
    NVR = "nvr"
    ACCESS_CONTROLLER = "access_controller"
    DOOR_LOCK = "door_lock"
    FIRE_ALARM_PANEL = "fire_alarm_panel"
    INTRUDER_ALARM_PANEL = "intruder_alarm_panel"
    BMS_CONTROLLER = "bms_controller"
    WEARABLE = "wearable"
    BODY_WORN_CAMERA = "body_worn_camera"
    BODY_WORN_CAMERA_DOCK = "body_worn_camera_dock"
    VOICE_ASSISTANT = "voice_assistant"
    HEALTH_MONITOR = "health_monitor"
    IOT_SIM = "iot_sim"
    SMART_METER = "smart_meter"
    GATEWAY = "gateway"
    ROUTER = "router"
    SWITCH = "switch"
    VEHICLE = "vehicle"
    VEHICLE_TELEMATICS = "vehicle_telematics"
    DRONE = "drone"
    DRONE_DOCK = "drone_dock"
    ENFORCEMENT_DEVICE = "enforcement_device"
    PRINTER = "printer"
    VOIP_PHONE = "voip_phone"
    PDU_UPS = "pdu_ups"
    PLC = "plc"
    SENSOR = "sensor"
    ACTUATOR = "actuator"
    OTHER = "other"


class Category(StrEnum):
    """The guideline's three kinds of IoT device."""

    SENSOR = "sensor"
    ACTUATOR = "actuator"
    GATEWAY = "gateway"


class Criticality(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Role(StrEnum):
    VIEWER = "viewer"
    ANALYST = "analyst"
    ENGINEER = "engineer"
    ADMIN = "admin"
    AUDITOR = "auditor"


class Zone(StrEnum):
    """Network zones a segment can belong to; `iot-*` zones hold connected devices."""

    IOT_CCTV = "iot-cctv"
    IOT_ACCESS = "iot-access"
    IOT_BUILDING = "iot-building"
    IOT_FIRE = "iot-fire"
    IOT_WEARABLE = "iot-wearable"
    IOT_VEHICLE = "iot-vehicle"
    IOT_GENERAL = "iot-general"
    OT = "ot"
    CORPORATE = "corporate"
    MANAGEMENT = "management"
    DMZ = "dmz"
    GUEST = "guest"
    CELLULAR = "cellular"


class RaciRole(StrEnum):
    RESPONSIBLE = "R"
    ACCOUNTABLE = "A"
    CONSULTED = "C"
    INFORMED = "I"
