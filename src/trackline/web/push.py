"""The worker's HTTP face: Pub/Sub push (`POST /pubsub/push`) and `GET /healthz`.

The push contract is Cloud Run's: a JSON envelope `{"message": {"data": <base64>,
"attributes": {...}, "messageId": ..., "publishTime": ...}, "subscription": ...}`, whose data is
`{"session_id": ...}`. Pub/Sub treats any 2xx as an acknowledgement and anything else as "try
again later" (with backoff, then the dead-letter topic if one is set). So:

- 200: the delivery needs nothing more: the session ran (`done` or `error`, recorded), or it is
  running elsewhere, or finished already (duplicates are acknowledged, never run twice);
- 400: the envelope or its data is malformed; 404: no such session in this store. Both are
  retried by Pub/Sub and end in its dead-letter topic: a bad message is visible, never dropped;
- 401: no or wrong credentials, checked from the headers before the body is read; nothing is
  read or changed;
- 413: the body is over the limit (by `Content-Length` before reading, or counted as it arrives);
- 503: the state store (or the OIDC verifier) failed, so nothing was recorded durably: retry.

The request runs the session synchronously (Cloud Run keeps CPU only during a request); set
the subscription's ack deadline above the longest session.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from trackline.config import Settings
from trackline.errors import TracklineError
from trackline.pipelines.base import UserPipeline
from trackline.sessions.runner import default_worker_id, run_session
from trackline.sessions.trigger import BadMessageError as BadMessage
from trackline.sessions.trigger import parse
from trackline.state import StateStore, open_state
from trackline.web.auth import Authenticator, AuthError, AuthUnavailable, from_settings

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024  # an announcement is tiny; refuse anything big before parsing it


def session_id_from_envelope(body: bytes) -> tuple[str, str | None]:
    """(session id, Pub/Sub message id) from a push envelope, or BadMessage saying what is off."""
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadMessage("the body is not JSON (expected a Pub/Sub push envelope)") from None
    msg = envelope.get("message") if isinstance(envelope, dict) else None
    if not isinstance(msg, dict):
        raise BadMessage('the envelope has no "message" object')
    data = msg.get("data")
    if not isinstance(data, str) or not data:
        raise BadMessage('the message has no base64 "data"')
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise BadMessage('"data" is not base64') from None
    message_id = msg.get("messageId") or msg.get("message_id")
    return parse(raw), str(message_id) if message_id is not None else None


def create_app(
    settings: Settings,
    *,
    store: StateStore | None = None,
    pipeline: UserPipeline | None = None,
    worker_id: str | None = None,
    authenticator: Authenticator | None = None,
) -> FastAPI:
    """The ASGI app. Opens the state store at start-up (unless given one) and closes it after."""
    auth = authenticator or from_settings(settings)  # refuse to start without auth configured
    wid = worker_id or default_worker_id()
    holder: dict[str, StateStore] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        holder["store"] = store or open_state(settings)
        log.info("worker.start worker_id=%s auth=%s", wid, auth.mode)
        try:
            yield
        finally:
            if store is None:
                holder["store"].close()

    # No docs or OpenAPI schema: the only callers are Pub/Sub and health checks.
    app = FastAPI(
        title="trackline worker",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        # Unauthenticated, so it says only whether the worker can serve: no versions, ids, paths.
        try:
            holder["store"].schema_version()
        except Exception as exc:
            log.warning("worker.unhealthy error=%s", type(exc).__name__)
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.post("/pubsub/push")
    async def push(request: Request) -> JSONResponse:
        # Who is calling, from the headers alone, before a byte of the body is read: an
        # unauthenticated caller costs a header parse, whatever it announces or sends.
        try:
            caller = await run_in_threadpool(auth.check, request.headers.get("authorization"))
        except AuthError as exc:
            log.warning("worker.unauthorized reason=%s", exc)
            return JSONResponse(
                {"error": str(exc)}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
        except AuthUnavailable as exc:
            log.error("worker.auth_unavailable reason=%s", exc)
            return JSONResponse({"error": str(exc)}, status_code=503)
        try:
            body = await read_capped(request, MAX_BODY)
        except BodyError as exc:
            log.warning("worker.bad_body reason=%s", exc)
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        return await run_in_threadpool(handle, caller, body)

    def handle(caller: str, body: bytes) -> JSONResponse:
        """Blocking work (the session itself) off the event loop."""
        try:
            session_id, message_id = session_id_from_envelope(body)
        except BadMessage as exc:
            return _bad(str(exc))
        log.info(
            "worker.push session_id=%s message_id=%s caller=%s", session_id, message_id, caller
        )
        try:
            run = run_session(settings, holder["store"], session_id, wid, pipeline=pipeline)
        except Exception as exc:  # the store failed: nothing durable, so ask for a retry
            reason = str(exc) if isinstance(exc, TracklineError) else type(exc).__name__
            log.error("worker.push_failed session_id=%s error=%s", session_id, reason)
            return JSONResponse(
                {"error": f"could not record the session: {reason}", "session_id": session_id},
                status_code=503,
            )
        code = 404 if run.result == "unknown" else 200
        return JSONResponse(run.as_dict(), status_code=code)

    return app


class BodyError(TracklineError):
    """The body cannot be taken: too large (413) or its length header is unusable (400)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


async def read_capped(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it is known to exceed `limit`: from `Content-Length` before
    reading, else (chunked, no length) counted as it arrives, so memory stays under the limit."""
    length = request.headers.get("content-length")
    if length is not None:
        if not (length.isascii() and length.strip().isdigit()):
            raise BodyError("the Content-Length header is not a number", 400)
        if int(length) > limit:
            raise BodyError(f"the body is larger than {limit} bytes", 413)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyError(f"the body is larger than {limit} bytes", 413)
            chunks.append(chunk)
    except ClientDisconnect:
        raise BodyError("the caller disconnected before sending the whole body", 400) from None
    return b"".join(chunks)


def _bad(reason: str) -> JSONResponse:
    log.warning("worker.bad_message reason=%s", reason)
    return JSONResponse({"error": reason}, status_code=400)


def serve(settings: Settings, host: str, port: int) -> None:
    """Run the worker in the foreground (uvicorn) until interrupted."""
    import uvicorn

    uvicorn.run(
        create_app(settings), host=host, port=port, log_level="warning", server_header=False
    )
