"""Reading transcripts to grade: JSON (a list of {speaker, text}, or an object with "turns") or plain
text with "Agent:" / "Customer:" lines."""
from __future__ import annotations

import json
import re
from pathlib import Path

from .actor import Turn

_LINE = re.compile(r"^\s*(agent|customer|caller|rep|representative|[A-Z][A-Za-z]+)\s*:\s*(.*)$", re.I)


class TranscriptError(ValueError):
    pass


def parse_transcript(text: str, source: str = "<text>") -> list[Turn]:
    stripped = text.strip()
    if not stripped:
        raise TranscriptError(f"{source}: the transcript is empty")
    if stripped[0] in "[{":
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise TranscriptError(f"{source}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
        items = data.get("turns") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise TranscriptError(f"{source}: expected a list of {{\"speaker\", \"text\"}} objects (or an object with \"turns\")")
        turns = []
        for n, item in enumerate(items):
            if not isinstance(item, dict) or item.get("speaker") not in ("agent", "customer") or not isinstance(item.get("text"), str):
                raise TranscriptError(f"{source}: turn {n + 1}: needs \"speaker\": \"agent\" or \"customer\" and a \"text\" string")
            turns.append(Turn(item["speaker"], item["text"]))
        return turns
    turns: list[Turn] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _LINE.match(line)
        if m:
            who = m.group(1).lower()
            speaker = "agent" if who in ("agent", "rep", "representative") else "customer"
            turns.append(Turn(speaker, m.group(2).strip()))
        elif turns:
            turns[-1] = Turn(turns[-1].speaker, turns[-1].text + " " + line.strip())
        else:
            raise TranscriptError(f"{source}: line {n}: start each turn with 'Agent:' or 'Customer:'")
    return turns


def load_transcript(path: Path) -> list[Turn]:
    try:
        return parse_transcript(path.read_text(encoding="utf-8"), str(path))
    except FileNotFoundError:
        raise TranscriptError(f"{path}: file not found") from None
