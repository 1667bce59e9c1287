"""The federations pages (read-only): `/federations` lists the federations of `DATA/federations/`,
`/federations/{name}` shows one with per-round curves and a site table; their JavaScript
(static/federation.js) polls `/api/federations/...` while a federation runs."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from deephealth.server.deps import Principal, optional_user
from deephealth.server.pages.routes import _need_login, _render

router = APIRouter(include_in_schema=False)


@router.get("/federations", response_class=HTMLResponse)
def federations_page(
    request: Request, principal: Principal | None = Depends(optional_user)
) -> Response:
    """The federations and their progress."""
    return _render(request, "federation.html", _need_login(principal), federation="")


@router.get("/federations/{name}", response_class=HTMLResponse)
def federation_page(
    name: str, request: Request, principal: Principal | None = Depends(optional_user)
) -> Response:
    """One federation: rounds, curves, sites (404 from the API when it does not exist)."""
    return _render(request, "federation.html", _need_login(principal), federation=name)
