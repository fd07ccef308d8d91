"""Speech metrics from a timed transcript: pace, dead air, filler words, talk-time ratio, talking over
the customer, and the agent's response latency. Pure functions over timings, so they are tested on
constructed calls and work the same for practice calls and uploaded recordings."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from ..text import md_escape as esc

DEAD_AIR_S = 3.0            # a silence on the line longer than this is dead air
OVERLAP_MIN_S = 0.3         # the agent must be in the customer's speech this long to count as talking over

_FILLERS = re.compile(r"\b(?:u+m+|u+h+m*|e+r+m*|a+h+|h+m+|m+h*m+|you know|i mean|basically|like(?=,))\b", re.I)


@dataclass
class Utterance:
    speaker: str                        # agent | customer
    start: float                        # seconds from the start of the call
    end: float
    text: str
    turn: int | None = None             # 1-based transcript turn it belongs to (for evidence)
    n_words: int | None = None          # words spoken (default: counted in text)

    @property
    def words(self) -> int:
        return self.n_words if self.n_words is not None else len(re.findall(r"[A-Za-z0-9']+", self.text))


def fillers_in(text: str) -> list[str]:
    return [m.group(0).lower() for m in _FILLERS.finditer(text)]


@dataclass
class SpeechMetrics:
    duration_s: float
    agent_talk_s: float
    customer_talk_s: float
    talk_ratio: float | None                  # agent share of all talk time, 0–1
    words_per_minute: float | None            # the agent's speaking rate
    agent_words: int
    filler_count: int
    fillers_per_minute: float | None
    fillers: dict[str, int] = field(default_factory=dict)
    dead_air_threshold_s: float = DEAD_AIR_S
    dead_air: list[dict] = field(default_factory=list)        # {start, seconds, before_turn}
    talk_over: list[dict] = field(default_factory=list)       # {start, seconds, turn}
    response_latencies_s: list[float] = field(default_factory=list)
    response_latency_median_s: float | None = None
    response_latency_max_s: float | None = None
    source: str = "practice"                  # practice | recording

    def to_dict(self) -> dict:
        return asdict(self)


def _merge(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def _median(xs: list[float]) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    m = len(s) // 2
    return s[m] if len(s) % 2 else (s[m - 1] + s[m]) / 2


def compute(utterances: list[Utterance], *, dead_air_s: float = DEAD_AIR_S, source: str = "practice") -> SpeechMetrics:
    utts = sorted((u for u in utterances if u.end > u.start), key=lambda u: u.start)
    agent = [u for u in utts if u.speaker == "agent"]
    customer = [u for u in utts if u.speaker == "customer"]
    agent_talk = sum(b - a for a, b in _merge([(u.start, u.end) for u in agent]))
    cust_talk = sum(b - a for a, b in _merge([(u.start, u.end) for u in customer]))
    words = sum(u.words for u in agent)
    fill: dict[str, int] = {}
    for u in agent:
        for f in fillers_in(u.text):
            fill[f] = fill.get(f, 0) + 1
    n_fill = sum(fill.values())
    minutes = agent_talk / 60

    # dead air: gaps in the union of everyone's speech. In a practice call the wait for the simulated customer
    # is the simulator's latency, not the trainee's silence, so only gaps before the agent speaks count there.
    dead = []
    merged = _merge([(u.start, u.end) for u in utts])
    for (_, end_a), (start_b, _) in zip(merged, merged[1:]):
        gap = start_b - end_a
        nxt = next((u for u in utts if u.start >= start_b - 1e-6), None)
        if gap > dead_air_s and not (source == "practice" and nxt is not None and nxt.speaker == "customer"):
            dead.append({"start": round(end_a, 2), "seconds": round(gap, 2), "before_turn": nxt.turn if nxt else None})

    # talking over: the agent starts while the customer is still speaking
    over = []
    for a in agent:
        for c in customer:
            if c.start < a.start < c.end:
                overlap = min(a.end, c.end) - a.start
                if overlap >= OVERLAP_MIN_S:
                    over.append({"start": round(a.start, 2), "seconds": round(overlap, 2), "turn": a.turn})
                    break

    # response latency: customer stops → agent starts (the next agent utterance after a customer one)
    lat = []
    for i, c in enumerate(utts):
        if c.speaker != "customer":
            continue
        nxt = utts[i + 1] if i + 1 < len(utts) else None
        if nxt is not None and nxt.speaker == "agent" and nxt.start >= c.end - 1e-6:
            lat.append(round(nxt.start - c.end, 2))
    duration = (max(u.end for u in utts) - min(u.start for u in utts)) if utts else 0.0
    total = agent_talk + cust_talk
    return SpeechMetrics(
        duration_s=round(duration, 2), agent_talk_s=round(agent_talk, 2), customer_talk_s=round(cust_talk, 2),
        talk_ratio=round(agent_talk / total, 3) if total > 0 else None,
        words_per_minute=round(words / minutes, 1) if minutes > 0 and words else None, agent_words=words,
        filler_count=n_fill, fillers_per_minute=round(n_fill / minutes, 2) if minutes > 0 else None, fillers=fill,
        dead_air_threshold_s=dead_air_s, dead_air=dead, talk_over=over, response_latencies_s=lat,
        response_latency_median_s=_median(lat), response_latency_max_s=max(lat) if lat else None, source=source)


def markdown(m: dict) -> str:
    """The speech-metrics block shown with the scorecard. `m` is stored JSON: its words (the filler words heard in
    the trainee's speech) are escaped like any other text."""
    def f(x, fmt="{:.0f}", none="—"):
        return none if x is None else fmt.format(x)
    fillers = ", ".join(f"{esc(k)} ×{esc(v)}" for k, v in sorted(m.get("fillers", {}).items(), key=lambda kv: -kv[1])) or "none"
    dead = m.get("dead_air", [])
    over = m.get("talk_over", [])
    rows = [
        ("Speaking rate", f"{f(m.get('words_per_minute'))} words/min", "120–170 is easy to follow"),
        ("Talk-time ratio (you)", f(m.get("talk_ratio"), "{:.0%}"), "about 40–60 % on a service call"),
        ("Filler words", f"{m.get('filler_count', 0)} ({f(m.get('fillers_per_minute'), '{:.1f}')}/min): {fillers}", "aim for under 3 a minute"),
        (f"Dead air (> {m.get('dead_air_threshold_s', DEAD_AIR_S):.0f} s)",
         f"{len(dead)}" + (": " + ", ".join(f"{d['seconds']:.1f} s at {d['start']:.0f} s" for d in dead[:4]) if dead else ""), "none"),
        ("Talking over the customer", f"{len(over)}" + (": " + ", ".join(f"at {o['start']:.0f} s" for o in over[:4]) if over else ""), "none"),
        ("Response latency", f"median {f(m.get('response_latency_median_s'), '{:.1f} s')}, longest {f(m.get('response_latency_max_s'), '{:.1f} s')}", "under 2 s"),
    ]
    src = "uploaded recording" if m.get("source") == "recording" else "voice practice call"
    out = [f"### Speech metrics\n_From the {src}; {m.get('duration_s', 0):.0f} s of call audio._\n",
           "| Metric | This call | Target |", "|---|---|---|"]
    out += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(out)
