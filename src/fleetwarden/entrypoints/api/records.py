"""CRUD for the register's reference records: sites, segments, suppliers, models,
IoT systems and data items, one router per kind generated from ``KINDS``.

``GET/POST /api/v1/{plural}``, ``GET/PATCH/DELETE /api/v1/{plural}/{id}`` on top of
``services.registry``; lists take ``limit``/``offset``/``sort`` (``-`` prefix for
descending) and answer ``{"items", "total", "limit", "offset"}``.
"""

# No ``from __future__ import annotations`` here: the endpoints below are built in a
# closure and FastAPI must see their body types as objects, not as strings to resolve.
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel, Field, create_model

from fleetwarden.domain.records import RecordKind
from fleetwarden.entrypoints.api.auth import CurrentPlatform, CurrentPrincipal
from fleetwarden.entrypoints.api.schemas import (
    CONFLICT,
    MAX_ID,
    NOT_FOUND,
    ComponentIn,
    ComponentOut,
    DataItemIn,
    DataItemOut,
    ModelIn,
    ModelOut,
    Output,
    SegmentIn,
    SegmentOut,
    SiteIn,
    SiteOut,
    SupplierIn,
    SupplierOut,
    SystemIn,
    SystemOut,
    partial,
)
from fleetwarden.entrypoints.presenters import record_view
from fleetwarden.services import registry

RecordId = Annotated[int, Path(ge=1, le=MAX_ID)]


@dataclass(frozen=True)
class KindApi:
    kind: RecordKind
    plural: str
    """The URL segment: /api/v1/<plural>."""
    singular: str
    plural_label: str
    tag: str
    create: type[BaseModel]
    out: type[BaseModel]
    description: str


KINDS: tuple[KindApi, ...] = (
    KindApi(RecordKind.SITE, "sites", "site", "sites", "sites", SiteIn, SiteOut,
            "Places where devices are installed."),
    KindApi(RecordKind.SEGMENT, "segments", "segment", "segments", "segments", SegmentIn,
            SegmentOut, "Network segments: CIDRs, VLAN, zone."),
    KindApi(RecordKind.SUPPLIER, "suppliers", "supplier", "suppliers", "suppliers",
            SupplierIn, SupplierOut, "Suppliers and where they take vulnerability reports."),
    KindApi(RecordKind.MODEL, "models", "device model", "device models", "models", ModelIn,
            ModelOut, "Device models: vendor, model, type, category, end of support."),
    KindApi(RecordKind.SYSTEM, "systems", "IoT system", "IoT systems", "systems", SystemIn,
            SystemOut, "IoT systems: scope, data flows and the RACI matrix."),
    KindApi(RecordKind.DATA_ITEM, "data-items", "data item", "data items", "data-items",
            DataItemIn, DataItemOut, "Data items with their security classification."),
    KindApi(RecordKind.COMPONENT, "components", "software component", "software components",
            "components", ComponentIn, ComponentOut,
            "Software installed on a device or shipped with a model (name, version, purl, CPE)."),
)


def _page_model(spec: KindApi) -> type[BaseModel]:
    model: type[BaseModel] = create_model(
        spec.out.__name__.removesuffix("Out") + "Page",
        __base__=Output,
        items=(list[spec.out], ...),  # type: ignore[name-defined]
        total=(int, Field(description=f"All {spec.plural_label} of the tenant")),
        limit=(int, ...),
        offset=(int, ...),
    )
    return model


def make_router(spec: KindApi) -> APIRouter:
    router = APIRouter(prefix=f"/{spec.plural}", tags=[spec.tag])
    kind = spec.kind
    patch_model = partial(
        spec.create, spec.create.__name__.removesuffix("In") + "Patch",
        f"Fields of the {spec.singular} to change; absent fields keep their values.",
    )
    page_model = _page_model(spec)
    sortable = sorted(set(spec.out.model_fields))

    @router.get("", response_model=page_model, summary=f"List {spec.plural_label}",
                name=f"list_{spec.tag}")
    def list_records(
        platform: CurrentPlatform,
        principal: CurrentPrincipal,
        limit: Annotated[int, Query(ge=1, le=registry.MAX_PAGE)] = 100,
        offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
        sort: Annotated[str, Query(max_length=64, description="One of: "
                                   + ", ".join(sortable) + "; prefix - for descending")]
        = "id",
    ) -> dict[str, Any]:
        items, total = registry.list_records(
            platform, principal, kind, limit=limit, offset=offset, sort=sort.lstrip("-"),
            descending=sort.startswith("-"),
        )
        return {"items": [record_view(r) for r in items], "total": total, "limit": limit,
                "offset": offset}

    @router.post("", response_model=spec.out, status_code=status.HTTP_201_CREATED,
                 summary=f"Add a {spec.singular}", responses=CONFLICT,
                 name=f"create_{spec.tag}")
    def create_record(
        platform: CurrentPlatform, principal: CurrentPrincipal, body: spec.create,  # type: ignore[name-defined]
        response: Response,
    ) -> dict[str, Any]:
        record = registry.create(platform, principal, kind,
                                 body.model_dump(mode="json", exclude_unset=True))
        response.headers["Location"] = f"/api/v1/{spec.plural}/{record.id}"
        return record_view(record)

    @router.get("/{record_id}", response_model=spec.out, summary=f"Show a {spec.singular}",
                responses=NOT_FOUND, name=f"get_{spec.tag}")
    def get_record(
        platform: CurrentPlatform, principal: CurrentPrincipal, record_id: RecordId
    ) -> dict[str, Any]:
        return record_view(registry.get(platform, principal, kind, record_id))

    @router.patch("/{record_id}", response_model=spec.out,
                  summary=f"Edit a {spec.singular}", responses=NOT_FOUND | CONFLICT,
                  name=f"update_{spec.tag}")
    def update_record(
        platform: CurrentPlatform, principal: CurrentPrincipal, record_id: RecordId,
        body: patch_model,  # type: ignore[valid-type]
    ) -> dict[str, Any]:
        raw = body.model_dump(mode="json", exclude_unset=True)  # type: ignore[attr-defined]
        return record_view(registry.update(platform, principal, kind, record_id, raw))

    @router.delete("/{record_id}", status_code=status.HTTP_204_NO_CONTENT,
                   summary=f"Delete a {spec.singular}",
                   description="Refused with 409 while anything still refers to it.",
                   responses=NOT_FOUND | CONFLICT, name=f"delete_{spec.tag}")
    def delete_record(
        platform: CurrentPlatform, principal: CurrentPrincipal, record_id: RecordId
    ) -> Response:
        registry.delete(platform, principal, kind, record_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router


routers = [make_router(spec) for spec in KINDS]
