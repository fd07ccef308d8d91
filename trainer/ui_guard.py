"""The web app's boundary: every Gradio event is a public HTTP endpoint, so every one of them resolves the browser's
session token into a signed-in principal before it runs, and refuses when there is none.

`guard_events(demo, token, app)` is called once, after the whole page is built. It walks every registered event
(`demo.fns`) and wraps its function:
- an event whose first input is the session token keeps it (its handler resolves the user again and passes it to
  the functions that check the role: authorization lives there, in trainer.*, not here);
- an event without the token (a pure layout toggle, say) gets the token added as its first input, checked, and
  dropped before the handler runs.
Only the events named in EXEMPT run without a principal: signing in and the public landing page. Every event is
also marked api_visibility="private": Gradio then leaves it out of its API page and its client libraries. That
is not protection (the page itself calls them by index, and so can anyone): the token check is.

The wrapper also decides what a refused or failed request shows: the message of an expected refusal (no permission,
bad input) as plain text, never HTML and never a traceback in the log; an unexpected error as one plain sentence,
with the details in the server's log only.
"""
from __future__ import annotations

import functools
import html
import inspect
import logging
from typing import Callable

import gradio as gr

from .accounts import AccountError, NotLoggedIn, PermissionDenied
from .call import CallStateError
from .content import ContentError

log = logging.getLogger(__name__)

EXEMPT = {
    "on_login": "signing in: takes a username and password, returns a new session token",
    "show_session": "the public landing: shows the sign-in form, or the tabs of the user its token names",
    "on_logout": "signing out: ends the session its token names, and nothing else",
}
"""Event functions (by name) that run without a signed-in principal. Keep this list short: each entry is an endpoint
anyone on the network can call."""

PASSWORD_CHANGE = {"on_first_password"}
"""Events allowed while the user must still replace a one-time password (everything else is refused until then)."""

EXPECTED = (AccountError, PermissionError, ValueError, KeyError, LookupError, ContentError, CallStateError)
"""Errors raised on purpose (bad input, no permission, a call that has ended): their message is meant for the user."""

UNEXPECTED_MESSAGE = "Something went wrong on the server (it has been logged). Nothing you entered was lost: try again."


def user_message(exc: BaseException) -> str:
    """The text a user sees for an expected error: its message as plain text (Gradio renders error toasts as HTML)."""
    text = exc.message if isinstance(exc, gr.Error) else str(exc)
    return html.escape(str(text).strip("'\""), quote=False)


def refuse(exc: BaseException, *, quiet: bool = False) -> gr.Error:
    """A refusal as Gradio shows it: plain text, no traceback in the log. `quiet`: a page that is showing the sign-in
    form anyway (nobody signed in) gets no toast."""
    return gr.Error(user_message(exc), visible=not quiet, print_exception=False)


def translate(exc: BaseException) -> gr.Error:
    if isinstance(exc, (gr.Error, *EXPECTED)):
        return refuse(exc)
    log.error("unexpected error in a web event", exc_info=exc)
    return gr.Error(UNEXPECTED_MESSAGE, print_exception=False)


def _wrap(fn: Callable, resolve: Callable[[str | None, bool], object], *, pass_token: bool, allow_change: bool) -> Callable:
    def check(tok):
        try:
            resolve(tok, allow_change)
        except (NotLoggedIn, PermissionDenied) as exc:
            raise refuse(exc, quiet=not tok) from None

    if inspect.isgeneratorfunction(fn):
        def guarded(tok, *args, **kwargs):
            check(tok)
            try:
                yield from (fn(tok, *args, **kwargs) if pass_token else fn(*args, **kwargs))
            except Exception as exc:  # noqa: BLE001 - every error leaves the boundary as a plain message
                raise translate(exc) from None
    else:
        def guarded(tok, *args, **kwargs):
            check(tok)
            try:
                return fn(tok, *args, **kwargs) if pass_token else fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001
                raise translate(exc) from None

    if pass_token:
        guarded = functools.wraps(fn)(guarded)          # same signature: Gradio finds gr.Progress defaults through it
    else:
        sig = inspect.signature(fn)
        if any(isinstance(p.default, gr.Progress) for p in sig.parameters.values()) or fn.__annotations__:
            raise TypeError(f"event function {fn.__name__} uses gr.Progress / gr.Request / annotations: give it the session "
                            "token as its first input explicitly")
        token_param = inspect.Parameter("session_token", inspect.Parameter.POSITIONAL_OR_KEYWORD)
        guarded.__signature__ = sig.replace(parameters=[token_param, *sig.parameters.values()])  # type: ignore[attr-defined]
        guarded.__name__ = getattr(fn, "__name__", "event")
        guarded.__qualname__ = getattr(fn, "__qualname__", guarded.__name__)
    guarded.__frontline_guarded__ = True  # type: ignore[attr-defined]
    return guarded


def guard_events(demo: gr.Blocks, token, app) -> list[str]:
    """Wrap every event of `demo` (see the module docstring). Returns the names of the events it guarded."""
    def resolve(tok, allow_change: bool):
        if allow_change:
            return app.accounts.user_for_token(tok, allow_password_change=True)
        return app.accounts.user_for_token(tok)

    guarded = []
    for block_fn in demo.fns.values():
        if block_fn.fn is None or getattr(block_fn.fn, "__frontline_guarded__", False):
            continue
        name = block_fn.name
        if name in EXEMPT:
            block_fn.fn = _exempt(block_fn.fn)
            continue
        has_token = bool(block_fn.inputs) and block_fn.inputs[0] is token
        if not has_token:
            if any(i is token for i in block_fn.inputs):
                raise TypeError(f"event function {name}: the session token must be its first input")
            block_fn.inputs = [token, *block_fn.inputs]
        block_fn.fn = _wrap(block_fn.fn, resolve, pass_token=has_token, allow_change=name in PASSWORD_CHANGE)
        block_fn.api_visibility = "private"     # the page's own events: not listed for API clients (still guarded above)
        guarded.append(name)
    return guarded


def _exempt(fn: Callable) -> Callable:
    """An exempt event still turns its errors into plain messages."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            raise translate(exc) from None
    run.__frontline_guarded__ = True  # type: ignore[attr-defined]
    return run


# ---------------------------------------------------------------------- HTTP response headers
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",                      # no framing: clickjacking
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    # Gradio's page needs its own inline scripts and styles, so script-src cannot be strict. What the policy does
    # guarantee: no framing, no plugins, no <base> rewrite, and no image, media, font or connection to any other host
    # (an image smuggled into a scorecard cannot call out).
    "Content-Security-Policy": ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
                                "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; media-src 'self' data: blob:; "
                                "font-src 'self' data:; connect-src 'self' data: blob:; worker-src 'self' blob:; frame-src 'self'; "
                                "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"),
}


class SecurityHeaders:
    """ASGI middleware: SECURITY_HEADERS on every HTTP response (set where the app did not set them itself)."""

    def __init__(self, app, headers: dict[str, str] | None = None):
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in (headers or SECURITY_HEADERS).items()]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                message = {**message, "headers": [*message.get("headers", []), *[(k, v) for k, v in self.headers if k not in have]]}
            await send(message)
        return await self.app(scope, receive, send_with_headers)
