"""Session errors and their stable codes."""

from __future__ import annotations

from pocketos.errors import PocketOSError

__all__ = ["SESSION_ERROR_CODES", "SessionError", "AgentCrashed"]

#: ``SessionError.code`` values (stable strings, documented in docs/sessions.md). The model
#: request codes (``http_error`` ... ``model_error``) come from the built-in agent's provider.
SESSION_ERROR_CODES = (
    "agent_error",  # the agent answered a request with an error
    "agent_crashed",  # the agent process ended while the session was open
    "connection_closed",  # the connection to the agent closed without a crash
    "agent_timeout",  # the agent did not answer a mode/model/config request in time
    "handshake_timeout",  # the agent did not answer initialize/session/new/load in time
    "start_failed",  # the agent could not be started
    "not_resumable",  # the session cannot be resumed (never started, no session/load)
    "not_found",  # no such session in the store
    "not_ready",  # the session is closed or crashed
    "bad_request",  # the call itself is wrong (closed VM, missing cwd, bad option)
    "http_error",  # model endpoint answered 4xx/5xx
    "unreachable",  # model endpoint could not be reached
    "timeout",  # model endpoint accepted the request but did not answer in time
    "bad_response",  # model endpoint answered something that is not a completion
    "model_error",  # model endpoint reported an error inside its answer
)


class SessionError(PocketOSError):
    """A session could not start, or the agent answered with an error. ``code`` is one of
    :data:`SESSION_ERROR_CODES`; the message says the rest."""

    def __init__(self, message: str, code: str = "agent_error") -> None:
        super().__init__(message)
        self.code = code


class AgentCrashed(SessionError):
    """The agent process ended while the session was open."""

    def __init__(self, message: str, code: str = "agent_crashed") -> None:
        super().__init__(message, code)
