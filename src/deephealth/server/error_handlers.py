"""Exception handlers installed on the app: answers that never echo what was sent.

FastAPI's default 422 body repeats every invalid input, so a sign-up with a too short password
would send the password back (and into any log that records responses). Here a validation error
keeps its location, message and type, never the input, and the server's data folder never
appears in an error message (`<data>/...` instead). Numbers beyond the database's 64-bit
range (ids like 2**70) are a 422. The OpenAPI schema documents that a 422
`detail` is either that list or, when a well-formed request is refused, one message.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from deephealth.server.redact import Redactor

_KEEP = ("loc", "msg", "type")


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [{k: e[k] for k in _KEEP if k in e} for e in exc.errors()]
    return JSONResponse(status_code=422, content={"detail": jsonable_encoder(errors)})


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """FastAPI's own answer, with the data folder hidden in the message (a safety net: messages
    name files as users know them, but a reader's message may still carry a server path)."""
    if isinstance(exc.detail, str):
        data_dir = str(request.app.state.config.data_dir)
        if data_dir in exc.detail:
            exc.detail = Redactor(data_dir).text(exc.detail)
    return await http_exception_handler(request, exc)


async def _out_of_range(_request: Request, _exc: Exception) -> JSONResponse:
    return JSONResponse(
        status_code=422,
        content={"detail": "a number in the request is out of the database's range"},
    )


def _document_error_shapes(app: FastAPI) -> None:
    """Make the OpenAPI schema say what 422 bodies are: `detail` is the list of field errors of
    a request that does not parse, or one message when a parsed request is refused."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = build()
            detail = (
                schema.get("components", {})
                .get("schemas", {})
                .get("HTTPValidationError", {})
                .get("properties", {})
            )
            if "detail" in detail:
                detail["detail"] = {
                    "title": "Detail",
                    "anyOf": [detail["detail"], {"type": "string"}],
                }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on `app` and document the error shapes in its OpenAPI schema."""
    from sqlalchemy.exc import DataError

    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # Ids and numbers beyond 64 bits: SQLite's driver raises OverflowError, PostgreSQL's a
    # DataError (numeric value out of range). No such row can exist: the request is at fault.
    app.add_exception_handler(OverflowError, _out_of_range)
    app.add_exception_handler(DataError, _out_of_range)
    _document_error_shapes(app)
