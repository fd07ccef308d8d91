"""Text from users, models and trainer content, made safe for the place it is shown or written.

Anything a person or a model wrote (agent and customer lines, display and team names, coaching comments, persona,
scenario and curriculum fields, grader notes) is data. Where the app builds Markdown or HTML around it, the data must
not become markup: not an image that loads from an outside server, not a link, not a heading that forges a score, not
a table cell boundary. Gradio renders Markdown in the browser (marked, then DOMPurify, then KaTeX for `$$`), so
escaping one or two characters at a time misses some: `md_escape` encodes every ASCII punctuation character, the set
CommonMark gives meaning to, as an HTML entity. The browser shows the entity as the character, so the text reads the
same, and nothing in it is left for a Markdown or HTML parser to act on.

- `md_escape`: one inline field in Markdown or HTML (element content or a quoted attribute value).
- `md_quote`: multi-line text (a coaching comment) as a block quote that the text cannot leave.
- `plain`: one line for components that show text as text (dropdown labels, table cells): no entities there, or
  they would show as `&#46;`.
- `csv_cell`: a spreadsheet cell that cannot start a formula.
- `strip_bidi`: drop the bidirectional controls that make text display in another order than it is stored.
"""
from __future__ import annotations

import re
import string

# Bidirectional formatting characters (Unicode 15, UAX #9): embeddings and overrides U+202A-U+202E, isolates
# U+2066-U+2069, the marks U+200E/U+200F and the Arabic letter mark U+061C. With U+202E first, "gnp.exe" displays
# as "exe.png", and a name can reverse the text after it in a table row.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
# Line breaks of every kind (what str.splitlines splits on), so an inline field stays on one line.
_BREAKS = re.compile(r"\s*[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]+\s*")
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")

# html.escape's entities for the five HTML-special characters (so text that was escaped before reads the same),
# numeric entities for the rest of ASCII punctuation.
_ENTITIES = {ord(c): f"&#{ord(c)};" for c in string.punctuation}
_ENTITIES.update({ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", ord('"'): "&quot;", ord("'"): "&#x27;"})

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")   # fullwidth = + - @ too


def strip_bidi(text: str | None) -> str:
    """`text` without bidirectional control characters."""
    return _BIDI.sub("", text or "")


def plain(text: object) -> str:
    """One line of plain text: no bidi controls, no control characters, line breaks as spaces. For components that
    display text as text (dropdown choices, data frames), where an HTML entity would show literally."""
    s = strip_bidi("" if text is None else str(text))
    return _CONTROLS.sub(" ", _BREAKS.sub(" ", s))


def md_escape(text: object) -> str:
    """`text` made inert inside Markdown and HTML: on one line, HTML-escaped, and every Markdown-active character
    (all ASCII punctuation, so \\ ` * _ { } [ ] ( ) # + - . ! | ~ < > $ : and the rest) and leading whitespace
    written as an HTML entity. Shown in Gradio's Markdown or HTML it reads exactly as `text`."""
    s = plain(text)
    body = s.lstrip(" \t")
    lead = "".join(f"&#{ord(c)};" for c in s[:len(s) - len(body)])       # four spaces would start a code block
    return lead + body.translate(_ENTITIES)


def md_quote(text: object) -> str:
    """Multi-line text as a Markdown block quote: each line escaped and prefixed with "> ", so no line can close the
    quote and start a heading, a list or a table of its own. Put it after a blank line."""
    s = strip_bidi("" if text is None else str(text))
    lines = s.splitlines() or [""]
    return "\n".join(f"> {md_escape(line)}" if line.strip() else ">" for line in lines)


def csv_cell(value: object) -> object:
    """A value for a CSV cell that a spreadsheet will not run: text that starts with = + - @, a tab or a line break
    (after any leading spaces) gets a leading apostrophe, as OWASP advises for CSV injection. Numbers, booleans and
    None stay as they are, so scores remain numbers."""
    if not isinstance(value, str):
        return value
    s = strip_bidi(value)
    return "'" + s if s.lstrip(" ").startswith(FORMULA_START) else s


# What a trainee is shown when the customer model does not answer. The reason (server address, exception) goes to the
# log, for whoever runs the app; the trainee can only retry.
MODEL_NOT_ANSWERING = "The customer could not answer (the model is not responding). Your call is saved: press Retry reply."
SOMETHING_FAILED = ("The customer could not answer (something went wrong on the server; it is in the log). "
                    "Your call is saved: press Retry reply.")
