"""Exception handlers installed on the app: answers that never echo what was sent.

FastAPI's default 422 body repeats every invalid input, so a sign-up with a too short password
would send the password back (and into any log that records responses). Here a validation error
keeps its location, message and type, never the input.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

_KEEP = ("loc", "msg", "type")


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [{k: e[k] for k in _KEEP if k in e} for e in exc.errors()]
    return JSONResponse(status_code=422, content={"detail": jsonable_encoder(errors)})


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on `app`."""
    app.add_exception_handler(RequestValidationError, _validation_error)
