"""The worker's HTTP face: Pub/Sub push (`POST /pubsub/push`) and `GET /healthz`.

The push contract is Cloud Run's: a JSON envelope `{"message": {"data": <base64>,
"attributes": {...}, "messageId": ..., "publishTime": ...}, "subscription": ...}`, whose data is
`{"session_id": ...}`. Pub/Sub treats any 2xx as an acknowledgement and anything else as "try
again later" (with backoff, then the dead-letter topic if one is set). So:

- 200: the delivery needs nothing more: the session ran (`done` or `error`, recorded), or it is
  running elsewhere, or finished already (duplicates are acknowledged, never run twice);
- 400: the envelope or its data is malformed; 404: no such session in this store. Both are
  retried by Pub/Sub and end in its dead-letter topic: a bad message is visible, never dropped;
- 401: no or wrong credentials, nothing is read or changed;
- 503: the state store failed, so nothing was recorded durably: retry.

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

from trackline.config import Settings
from trackline.errors import TracklineError
from trackline.pipelines.base import UserPipeline
from trackline.sessions.runner import default_worker_id, run_session
from trackline.sessions.trigger import BadMessageError as BadMessage
from trackline.sessions.trigger import parse
from trackline.state import StateStore, open_state
from trackline.web.auth import Authenticator, AuthError, from_settings

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

    app = FastAPI(title="trackline worker", lifespan=lifespan, docs_url=None, redoc_url=None)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        try:
            version = holder["store"].schema_version()
        except Exception as exc:
            log.warning("worker.unhealthy error=%s", type(exc).__name__)
            return JSONResponse({"status": "unavailable", "worker_id": wid}, status_code=503)
        return JSONResponse({"status": "ok", "worker_id": wid, "state_schema": version})

    @app.post("/pubsub/push")
    async def push(request: Request) -> JSONResponse:
        authorization = request.headers.get("authorization")
        body = await request.body()
        return await run_in_threadpool(handle, authorization, body)

    def handle(authorization: str | None, body: bytes) -> JSONResponse:
        """Blocking work (token verification, the session itself) off the event loop."""
        try:
            caller = auth.check(authorization)
        except AuthError as exc:
            log.warning("worker.unauthorized reason=%s", exc)
            return JSONResponse(
                {"error": str(exc)}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
        if len(body) > MAX_BODY:
            return _bad(f"the body is larger than {MAX_BODY} bytes")
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


def _bad(reason: str) -> JSONResponse:
    log.warning("worker.bad_message reason=%s", reason)
    return JSONResponse({"error": reason}, status_code=400)


def serve(settings: Settings, host: str, port: int) -> None:
    """Run the worker in the foreground (uvicorn) until interrupted."""
    import uvicorn

    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
