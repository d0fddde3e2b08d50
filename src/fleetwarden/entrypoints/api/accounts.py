"""``/api/v1/me``: who the bearer token stands for."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from fleetwarden.entrypoints.api.auth import CurrentPrincipal
from fleetwarden.entrypoints.api.schemas import MeOut

router = APIRouter(tags=["account"])


@router.get("/me", response_model=MeOut, summary="Who am I")
async def me(principal: CurrentPrincipal) -> dict[str, Any]:
    return {"email": principal.actor, "role": principal.role.value,
            "tenant": principal.tenant.name, "user_id": principal.user_id}
