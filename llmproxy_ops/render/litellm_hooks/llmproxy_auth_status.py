"""LiteLLM callback: a rejected key gets HTTP 401 when no database is connected.

Rendered next to config.yaml and named in `litellm_settings.callbacks`; LiteLLM loads it
from there (it must import nothing of llmproxy_ops: the compose image has only LiteLLM).

Why: without a database LiteLLM 1.108.7 rejects any key that is not the master key with
HTTP 400 "No connected db." (proxy/auth/user_api_key_auth.py), so SDKs raise
BadRequestError instead of AuthenticationError and clients do not know to fix their key.
No setting changes that status, and `allow_requests_on_db_unavailable: true` would let the
wrong key *through*. LiteLLM's auth still decides; this only relabels the status of that
one rejection, through LiteLLM's documented hook for transforming error responses
(`async_post_call_failure_hook` returning an HTTPException; proxy/utils.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from litellm.integrations.custom_logger import CustomLogger

NO_DB_TYPE = "no_db_connection"
NO_DB_MESSAGE = "No connected db."
MESSAGE = (
    "Authentication Error, invalid proxy key: it is not the master key, and no database "
    "is connected for virtual keys."
)


class AuthStatus(CustomLogger):  # type: ignore[misc]  # litellm ships no type stubs
    async def async_post_call_failure_hook(
        self,
        request_data: dict[str, Any],
        original_exception: Exception,
        user_api_key_dict: Any,
        traceback_str: str | None = None,
    ) -> HTTPException | None:
        if is_no_db_rejection(original_exception):
            return HTTPException(status_code=401, detail=MESSAGE)
        return None


def is_no_db_rejection(exc: Exception) -> bool:
    kind, message = getattr(exc, "type", None), getattr(exc, "message", None)
    return kind == NO_DB_TYPE and message == NO_DB_MESSAGE


handler = AuthStatus()
