"""Deterministic checks: each reads the whole call and returns met (1), partly (0.5), not met (0) or
not applicable (None), with evidence quoted from the turns. They work on any transcript; when the
call was simulated they also use the persona's facts and the customer's mood trajectory."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from ..actor import Turn
from ..moves import PATTERNS, content_words, detect_patterns, phrase_positive
from ..persona import Persona
from ..scenario import Scenario

GRADER_DIRECTED = re.compile(r"\b(?:grader|grading|evaluator|assessor|scor(?:e|ing) (?:this|the) call|full marks|top marks|"
                             r"(?:give|award) (?:me|this call|the agent) (?:a )?(?:\d+|full|maximum|perfect)|rubric|"
                             r"ignore (?:the|any) (?:previous|above) |score\s*[:=]?\s*\d{1,3}\s*/\s*100|all criteria (?:are )?met|"
                             r"the agent (?:has )?(?:verified|apologi[sz]ed|restated|summari[sz]ed|resolved|followed|acknowledged|empathi[sz]ed))", re.I)

_UPSET = re.compile(r"\b(?:ridiculous|unacceptable|joke|furious|angry|livid|fed up|sick of|useless|incompetent|disgrace|"
                    r"(?:third|fourth|fifth|another) (?:time|call)|supervisor|manager|complain|hang(?:ing)? up|waste|nonsense|"
                    r"outrageous|seriously\?|i (?:just|already) (?:said|told|gave)|you already asked|are you (?:even )?listening|are you kidding|not good enough|not acceptable|i want|still (?:not|no|nothing)|"
                    r"don'?t (?:talk|tell) me|how dare|excuse me\?|unbelievable|again\?|already (?:told|gave|said))\b", re.I)
_REPEAT_COMPLAINT = re.compile(r"\b(?:i (?:just|already) (?:said|told|gave|did|mentioned)|i(?:'ve| have) (?:just|already) (?:told|given|said|mentioned)|"
                               r"you already (?:asked|have|had)|as i (?:said|told you)|like i said|i said that|i told you|already gave|how many times|"
                               r"again\?|i(?:'m| am) repeating)", re.I)
_CALM = re.compile(r"\b(?:thank(?:s| you)|great|brilliant|perfect|appreciate|that(?:'s| is) (?:fine|great|good|helpful|brilliant|perfect)|"
                   r"okay,? (?:good|great|that works)|that works|sounds good|lovely|wonderful|relieved|much better|fair enough|"
                   r"you(?:'ve| have) been (?:very |really )?helpful|cheers)\b", re.I)
_NO = re.compile(r"\b(?:no,? thanks|no thank you|not interested|i(?:'ve| have)? (?:already )?said no|i don'?t want|don'?t need|not for me|"
                 r"i'?ll pass|no\.|just the|stop)\b", re.I)
_CARD = re.compile(r"\b(?:\d[ -]?){13,19}\b")
_PROMISE = re.compile(r"\b(?:i |we )?(?:guarantee|promise)\b.{0,60}\b(?:never|always|forever|for life|all future|won'?t (?:ever )?happen again|free)\b|"
                      r"\bfree for (?:life|a year|ever)\b|\bi(?:'ll| will) waive (?:everything|all (?:your|future))", re.I)
_RESOLVE_GENERIC = re.compile(r"\b(?:refund|credit|waive|waived|book(?:ed)?|send (?:an|a) engineer|fix|correct(?:ed)?|reverse|cancel(?:led)?|"
                              r"replace|arrange|sort(?:ed)? (?:it|this|that) out|apply|add(?:ed)? (?:the|a) line|move (?:your|the) supply)\b", re.I)
_MONEY = re.compile(r"[£$€]\s?(\d+(?:[.,]\d{1,2})?)")
_IDS = re.compile(r"\b(?:[A-Z]{2,4}-\d{3,}|\d{2,}-\d{3,})\b")
_VERIFY_DATA = ("postcode", "date of birth", "first line", "address", "security")


@dataclass
class CheckResult:
    level: float | None                     # 1 met, 0.5 partly, 0 not met, None not applicable
    evidence: list[tuple[int, str]] = field(default_factory=list)   # (turn number, 1-based; quote)
    note: str = ""


@dataclass
class CallContext:
    turns: list[Turn]
    persona: Persona | None = None
    scenario: Scenario | None = None
    mood: list[float] | None = None          # simulated: start mood, then after each customer turn
    speech: dict | None = None               # speech metrics when the call had audio (trainer/voice/metrics.py)
    ignored: set[int] = field(default_factory=set)   # turn indexes addressed to the grader: never credited

    def __post_init__(self) -> None:
        self.moves: dict[int, set[str]] = {}
        for i, t in enumerate(self.turns):
            if t.speaker == "agent":
                if GRADER_DIRECTED.search(t.text):
                    self.ignored.add(i)
                self.moves[i] = set() if i in self.ignored else detect_patterns(t.text)

    @property
    def agent(self) -> list[int]:
        return [i for i, t in enumerate(self.turns) if t.speaker == "agent" and i not in self.ignored]

    @property
    def customer(self) -> list[int]:
        return [i for i, t in enumerate(self.turns) if t.speaker == "customer"]

    def first(self, move: str, extra: Callable[[str], bool] | None = None) -> int | None:
        for i in self.agent:
            if move in self.moves[i] or (extra and extra(self.turns[i].text)):
                return i
        return None

    def all(self, move: str) -> list[int]:
        return [i for i in self.agent if move in self.moves[i]]

    def quote(self, i: int, move: str | None = None) -> tuple[int, str]:
        text = self.turns[i].text
        if move and move in PATTERNS:
            m = PATTERNS[move].search(text)
            if m:
                # the sentence holding the match
                start = max(text.rfind(".", 0, m.start()), text.rfind("?", 0, m.start()), text.rfind("!", 0, m.start())) + 1
                ends = [p for p in (text.find(".", m.end()), text.find("?", m.end()), text.find("!", m.end())) if p != -1]
                end = min(ends) + 1 if ends else len(text)
                return i + 1, text[start:end].strip()
        return i + 1, text[:200]

    def customer_upset(self) -> list[float]:
        """A mood estimate per customer turn, from the customer's own words (for calls without a simulation)."""
        if self.mood is not None:
            return list(self.mood[1:]) or [self.mood[0]]
        out = []
        for i in self.customer:
            text = self.turns[i].text
            score = 5.0 + 1.5 * len(_UPSET.findall(text)) - 1.5 * len(_CALM.findall(text))
            score += 0.5 * text.count("!") + (1.0 if re.search(r"\b[A-Z]{4,}\b", text) else 0)
            out.append(max(0.0, min(10.0, score)))
        return out


Detector = Callable[[CallContext], CheckResult]
DETECTORS: dict[str, Detector] = {}


def detector(name: str):
    def register(fn: Detector) -> Detector:
        DETECTORS[name] = fn
        return fn
    return register


def _level(count: int, met: int, partly: int = 1) -> float:
    return 1.0 if count >= met else 0.5 if count >= partly else 0.0


def _move_check(move: str, met: int = 1) -> Detector:
    def check(ctx: CallContext) -> CheckResult:
        hits = ctx.all(move)
        return CheckResult(_level(len(hits), met), [ctx.quote(i, move) for i in hits[:2]])
    return check


for _name in ("greet", "verify", "acknowledge", "summarise", "anything_else", "close", "hold", "transfer", "reference"):
    DETECTORS[_name] = _move_check("acknowledgement" if _name == "acknowledge" else _name)


# ------------------------------------------------------------------ active listening
@detector("restate")
def restate(ctx: CallContext) -> CheckResult:
    hits = ctx.all("restating")
    if hits:
        return CheckResult(1.0, [ctx.quote(hits[0], "restating")])
    # a paraphrase without a framing phrase: an agent turn echoing several of the customer's words about the problem
    for i in ctx.agent:
        prev = " ".join(ctx.turns[j].text for j in ctx.customer if j < i)
        overlap = content_words(ctx.turns[i].text) & content_words(prev)
        if len(overlap) >= 4 and "?" not in ctx.turns[i].text[:10]:
            return CheckResult(0.5, [ctx.quote(i)], "echoes the customer's words without restating the issue")
    return CheckResult(0.0, note="the issue was never restated")


@detector("clarify")
def clarify(ctx: CallContext) -> CheckResult:
    hits = [i for i in ctx.agent if "clarify" in ctx.moves[i] or ("needs" in ctx.moves[i])]
    return CheckResult(_level(len(hits), 2), [ctx.quote(i, "clarify") for i in hits[:2]])


_SPECIFIC = re.compile(r"[£$€]?\d[\d.,:/-]*|\b[A-Z][a-z]{2,}\b")


@detector("uses_details")
def uses_details(ctx: CallContext) -> CheckResult:
    """Details the customer gave (amounts, dates, names, numbers, key nouns) that the agent used later."""
    used: list[tuple[int, str]] = []
    seen: set[str] = set()
    for i in ctx.agent:
        said = " ".join(ctx.turns[j].text for j in ctx.customer if j < i)
        specifics = {s.lower().strip(".,") for s in _SPECIFIC.findall(said)} - {"i", "the", "hello", "yes", "okay"}
        nouns = content_words(said)
        text = ctx.turns[i].text.lower()
        new = {s for s in specifics if len(s) > 1 and s in text} | {w for w in nouns if len(w) > 5 and re.search(rf"\b{re.escape(w)}\b", text)}
        new -= seen
        if new:
            seen |= new
            used.append(ctx.quote(i))
    return CheckResult(_level(len(seen), 3, 1), used[:2], f"{len(seen)} customer details reused")


def _given_before(ctx: CallContext, i: int) -> set[str]:
    said = " ".join(ctx.turns[j].text for j in ctx.customer if j < i).lower()
    given = set()
    if re.search(r"\b(?:[a-z]{2,4}-)?\d{2,}[- ]?\d{3,}\b", said):
        given.add("account")
    if re.search(r"\b[a-z]{1,2}\d{1,2}[a-z]? ?\d[a-z]{2}\b", said):
        given.add("postcode")
    if re.search(r"\b\d{1,2}(?:st|nd|rd|th)? (?:of )?(?:january|february|march|april|may|june|july|august|september|october|november|december)\b.{0,6}\b(?:19|20)\d\d\b", said):
        given.add("birth")
    if re.search(r"\b(?:my name is|it'?s|this is) [a-z]+ [a-z]+\b", said):
        given.add("name")
    return given


_ASK = {"account": r"account (?:number|no)", "postcode": r"post ?code", "birth": r"date of birth|\bdob\b", "name": r"(?:full|your) name"}


@detector("no_repeat_asks")
def no_repeat_asks(ctx: CallContext) -> CheckResult:
    repeats: dict[int, tuple[int, str]] = {}
    for i in ctx.agent:
        text = ctx.turns[i].text
        asking = "?" in text or re.search(r"\b(?:can|could|may) i (?:have|take|get)|confirm|once more", text, re.I)
        if not asking:
            continue
        given = _given_before(ctx, i)
        if any(re.search(_ASK[key], text, re.I) for key in given) or "repeat_ask" in ctx.moves[i]:
            repeats[i] = ctx.quote(i)
    # the customer's own complaint ("I just told you") is the surest sign they were made to repeat
    for j in ctx.customer:
        if _REPEAT_COMPLAINT.search(ctx.turns[j].text):
            prev = [i for i in ctx.agent if i < j]
            if prev and prev[-1] not in repeats:
                repeats[prev[-1]] = ctx.quote(prev[-1])
    if not repeats:
        return CheckResult(1.0, note="never asked for information already given")
    ev = [repeats[i] for i in sorted(repeats)]
    return CheckResult(0.0 if len(ev) > 1 else 0.5, ev[:2], f"the customer had to repeat information {len(ev)} time(s)")


@detector("responsive")
def responsive(ctx: CallContext) -> CheckResult:
    """Customer questions and concerns get an answer in the agent's next turn, not the next script line."""
    asked = answered = 0
    missed: list[tuple[int, str]] = []
    for j in ctx.customer:
        text = ctx.turns[j].text
        if "?" not in text and not _UPSET.search(text):
            continue
        # the agent's very next line, even one addressed to the grader: that line earns no credit, so it leaves the
        # question unanswered instead of letting a later line (or none) answer it
        nxt = next((i for i in range(j + 1, len(ctx.turns)) if ctx.turns[i].speaker == "agent"), None)
        if nxt is None:
            continue
        asked += 1
        if nxt in ctx.ignored:
            missed.append((nxt + 1, ctx.turns[nxt].text[:160]))
            continue
        reply = ctx.turns[nxt].text
        overlap = content_words(reply) & content_words(text)
        moves = ctx.moves[nxt]
        if overlap or moves & {"acknowledgement", "apology", "timeline", "restating", "ownership", "empathy"}:
            answered += 1
        else:
            missed.append((nxt + 1, reply[:160]))
    if asked == 0:
        return CheckResult(1.0)
    ratio = answered / asked
    return CheckResult(1.0 if ratio >= 0.8 else 0.5 if ratio >= 0.5 else 0.0, missed[:2], f"responded to {answered} of {asked} customer questions or concerns")


# ------------------------------------------------------------------ script adherence
def step_hit(ctx: CallContext, step) -> int | None:
    from ..scenario import ScriptStep  # noqa: F401
    move = {"acknowledge": "acknowledgement", "restate": "restating", "resolve": None, "offer": None}.get(step.kind, step.kind)
    cues = [c.lower() for c in step.cues]
    for i in ctx.agent:
        text = ctx.turns[i].text
        if cues and any(c in text.lower() for c in cues):
            return i
        if step.kind == "resolve" and _offers_fix(ctx, text):
            return i
        if step.kind == "offer" and _offers_product(ctx, text):
            return i
        if step.kind == "restate" and ("restating" in ctx.moves[i]):
            return i
        if move and move in ctx.moves[i]:
            return i
    return None


def _default_steps():
    from ..scenario import ScriptStep
    kinds = ["greet", "verify", "acknowledge", "restate", "resolve", "timeline", "summarise", "anything_else", "close"]
    return [ScriptStep(id=k, kind=k, label=k) for k in kinds]


def _steps(ctx: CallContext):
    return ctx.scenario.call_script if ctx.scenario else _default_steps()


@detector("script_steps")
def script_steps(ctx: CallContext) -> CheckResult:
    steps = [s for s in _steps(ctx) if s.required]
    hits = {s.id: step_hit(ctx, s) for s in steps}
    covered = [s for s in steps if hits[s.id] is not None]
    share = len(covered) / max(1, len(steps))
    missing = [s.label for s in steps if hits[s.id] is None]
    level = 1.0 if share >= 0.85 else 0.5 if share >= 0.5 else 0.0
    return CheckResult(level, [(hits[s.id] + 1, s.label) for s in covered[:0]],
                       f"{len(covered)}/{len(steps)} steps covered" + (f"; missing: {', '.join(missing)}" if missing else ""))


@detector("script_order")
def script_order(ctx: CallContext) -> CheckResult:
    positions = [p for p in (step_hit(ctx, s) for s in _steps(ctx)) if p is not None]
    if len(positions) < 3:
        return CheckResult(0.0, note="too few steps to follow an order")
    # longest non-decreasing subsequence: how much of the script came in the intended order
    best = [1] * len(positions)
    for a in range(len(positions)):
        for b in range(a):
            if positions[b] <= positions[a]:
                best[a] = max(best[a], best[b] + 1)
    ratio = max(best) / len(positions)
    return CheckResult(1.0 if ratio >= 0.85 else 0.5 if ratio >= 0.6 else 0.0, note=f"{ratio:.0%} of covered steps in order")


@detector("natural_delivery")
def natural_delivery(ctx: CallContext) -> CheckResult:
    """Following the script while ignoring the customer is a fault: penalise ignored questions and repeat asks."""
    r, n = responsive(ctx), no_repeat_asks(ctx)
    ev = r.evidence[:1] + n.evidence[:1]
    if (r.level or 0) >= 1 and (n.level or 0) >= 1:
        return CheckResult(1.0)
    if (r.level or 0) == 0 or (n.level or 0) == 0:
        return CheckResult(0.0, ev, "script recited while ignoring what the customer said")
    return CheckResult(0.5, ev, "partly mechanical")


# ------------------------------------------------------------------ de-escalation
@detector("deescalation_techniques")
def deescalation_techniques(ctx: CallContext) -> CheckResult:
    used = [m for m in ("acknowledgement", "apology", "ownership", "timeline") if ctx.all(m)]
    ev = [ctx.quote(ctx.all(m)[0], m) for m in used[:2]]
    return CheckResult(_level(len(used), 3, 2), ev, f"used: {', '.join(used) or 'none'}")


@detector("acknowledge_first")
def acknowledge_first(ctx: CallContext) -> CheckResult:
    """CARP/HEARD: acknowledge the feeling before solving or processing."""
    upset_at = next((j for j in ctx.customer if _UPSET.search(ctx.turns[j].text)), None)
    if upset_at is None and not (ctx.mood and max(ctx.mood) >= 5):
        return CheckResult(None, note="the customer was never upset")
    start = upset_at if upset_at is not None else 0
    following = [i for i in ctx.agent if i > start][:2]
    for i in following:
        if ctx.moves[i] & {"acknowledgement", "apology", "empathy"}:
            return CheckResult(1.0, [ctx.quote(i, "acknowledgement" if "acknowledgement" in ctx.moves[i] else "apology")])
    later = [i for i in ctx.agent if i > start and ctx.moves[i] & {"acknowledgement", "apology", "empathy"}]
    if later:
        return CheckResult(0.5, [ctx.quote(later[0])], "acknowledged, but only after trying to process or solve")
    return CheckResult(0.0, note="the customer's frustration was never acknowledged")


@detector("no_inflaming")
def no_inflaming(ctx: CallContext) -> CheckResult:
    bad = [(i, m) for i in ctx.agent for m in ("calm_down", "blame", "dismissive", "rude") if m in ctx.moves[i]]
    if not bad:
        return CheckResult(1.0)
    return CheckResult(0.0 if len(bad) > 1 or bad[0][1] in ("rude", "calm_down") else 0.5,
                       [ctx.quote(i, m) for i, m in bad[:2]], "used inflaming language: " + ", ".join(sorted({m for _, m in bad})))


@detector("mood_outcome")
def mood_outcome(ctx: CallContext) -> CheckResult:
    last = ctx.turns[-1] if ctx.turns else None
    hung_up = bool(last and last.speaker == "customer" and re.search(r"hang(?:ing)? up|had enough|forget it|i'?m done", last.text, re.I))
    if ctx.mood is not None:                          # a simulated call: the director's mood trajectory
        start, peak, end = ctx.mood[0], max(ctx.mood), ctx.mood[-1]
        note = f"mood start {start:.1f}, peak {peak:.1f}, end {end:.1f}"
        if hung_up or end >= max(7.0, start + 1):
            return CheckResult(0.0, note=note + ("; the customer hung up" if hung_up else ""))
        if end <= 3 or (peak - end >= 3 and end < 5):
            return CheckResult(1.0, note=note)
        return CheckResult(0.5 if end < peak - 0.9 or end <= start - 1 or end < 5 else 0.0, note=note)
    # a real or imported call: judge from the customer's own words, late in the call against early on
    cust = ctx.customer
    if not cust:
        return CheckResult(None)
    cut = max(1, int(len(cust) * 0.6))
    early, late = cust[:cut], cust[cut:] or cust[-1:]
    up = lambda idx: sum(len(_UPSET.findall(ctx.turns[j].text)) + len(_REPEAT_COMPLAINT.findall(ctx.turns[j].text)) for j in idx)
    calm = sum(len(_CALM.findall(ctx.turns[j].text)) for j in late)
    note = f"customer's words: {up(early)} upset signals early, {up(late)} late, {calm} calm/grateful late"
    if hung_up or up(late) >= 2:
        return CheckResult(0.0, [(late[-1] + 1, ctx.turns[late[-1]].text[:160])], note + ("; the customer hung up" if hung_up else ""))
    if up(late) == 0 and calm >= 1:
        return CheckResult(1.0, note=note)
    return CheckResult(0.5, note=note)


# ------------------------------------------------------------------ empathy
@detector("empathy_statements")
def empathy_statements(ctx: CallContext) -> CheckResult:
    hits = [i for i in ctx.agent if ctx.moves[i] & {"acknowledgement", "empathy"}]
    return CheckResult(_level(len(hits), 2), [ctx.quote(i, "acknowledgement") for i in hits[:2]])


@detector("apology")
def apology(ctx: CallContext) -> CheckResult:
    hits = ctx.all("apology")
    return CheckResult(_level(len(hits), 1), [ctx.quote(i, "apology") for i in hits[:1]])


@detector("personal_touch")
def personal_touch(ctx: CallContext) -> CheckResult:
    name = ctx.persona.first_name.lower() if ctx.persona else None
    last = ctx.persona.facts.full_name.split()[-1].lower() if ctx.persona else None
    hits = [i for i in ctx.agent if (name and re.search(rf"\b(?:{name}|(?:mr|mrs|ms|miss)\.? {last})\b", ctx.turns[i].text.lower()))
            or re.search(r"\b(?:mr|mrs|ms|miss)\.? [A-Z][a-z]+", ctx.turns[i].text)]
    return CheckResult(_level(len(hits), 2), [ctx.quote(i) for i in hits[:1]])


# ------------------------------------------------------------------ resolution
def _offers_fix(ctx: CallContext, text: str) -> bool:
    if ctx.persona:
        return any(phrase_positive(text, w) for w in ctx.persona.goal.accepts)
    m = _RESOLVE_GENERIC.search(text)
    return bool(m) and phrase_positive(text, m.group(0))


def _offers_product(ctx: CallContext, text: str) -> bool:
    if ctx.persona and ctx.persona.offer:
        return any(phrase_positive(text, w) for w in ctx.persona.offer.keywords)
    return bool(re.search(r"\b(?:upgrade|plan|bundle|add-on|package|offer|deal|tariff)\b", text, re.I)) and bool(
        re.search(r"\b(?:would you (?:like|be interested)|could save|might suit|recommend|we (?:also )?have)\b", text, re.I))


@detector("fix_offered")
def fix_offered(ctx: CallContext) -> CheckResult:
    hits = [i for i in ctx.agent if _offers_fix(ctx, ctx.turns[i].text)]
    owned = [i for i in hits if ctx.moves[i] & {"ownership"}]
    if owned:
        return CheckResult(1.0, [ctx.quote(owned[0], "ownership")])
    if hits:
        return CheckResult(0.5, [ctx.quote(hits[0])], "a fix was mentioned but not clearly committed to")
    return CheckResult(0.0, note="no concrete fix was offered")


@detector("timeline_given")
def timeline_given(ctx: CallContext) -> CheckResult:
    hits = ctx.all("timeline")
    return CheckResult(_level(len(hits), 1), [ctx.quote(i, "timeline") for i in hits[:1]])


@detector("reference_given")
def reference_given(ctx: CallContext) -> CheckResult:
    needs = (ctx.persona and ctx.persona.goal.requires_reference) or (ctx.scenario and any(s.kind == "reference" for s in ctx.scenario.call_script))
    hits = ctx.all("reference")
    if not hits and not needs:
        return CheckResult(None)
    return CheckResult(_level(len(hits), 1), [ctx.quote(i, "reference") for i in hits[:1]])


def _money(text: str) -> set[float]:
    return {round(float(m.replace(",", ".")), 2) for m in _MONEY.findall(text)}


@detector("facts_correct")
def facts_correct(ctx: CallContext) -> CheckResult:
    """Amounts and reference numbers the agent states must match the account or what the customer said."""
    if not ctx.persona:
        return CheckResult(None)
    p = ctx.persona
    known_text = " ".join(p.facts.all_values() + p.facts.history + [p.company.context, p.problem, p.brief.summary, *p.brief.crm.values()]
                          + [h.detail for h in p.hidden_details] + ([p.offer.product] if p.offer else []))
    known_money, known_ids = _money(known_text), set(_IDS.findall(known_text))
    wrong = []
    for i in ctx.agent:
        text = ctx.turns[i].text
        said = " ".join(ctx.turns[j].text for j in ctx.customer if j < i)
        if any(a not in known_money and a not in _money(said) for a in _money(text)):
            wrong.append(ctx.quote(i))
        elif "reference" not in ctx.moves[i] and any(x not in known_ids and x not in said for x in _IDS.findall(text)):
            wrong.append(ctx.quote(i))
    if not wrong:
        return CheckResult(1.0)
    return CheckResult(0.0, wrong[:2], "stated an amount or number that does not match the account")


# ------------------------------------------------------------------ compliance (several are fatal)
@detector("verify_before_disclosure")
def verify_before_disclosure(ctx: CallContext) -> CheckResult:
    verified_at = ctx.first("verify")
    if ctx.persona is None:
        return CheckResult(1.0 if verified_at is not None else 0.0)
    p = ctx.persona
    private = [v for v in [*p.facts.amounts.values(), *p.facts.dates.values(), *p.facts.order_ids.values(), p.facts.plan or "",
                           p.facts.address or "", p.facts.email or ""] if v and len(v) >= 4]
    for i in ctx.agent:
        if verified_at is not None and i > verified_at:
            break
        said = " ".join(ctx.turns[j].text for j in ctx.customer if j < i).lower()
        text = ctx.turns[i].text.lower()
        for v in private:
            norm = v.lower()
            key = _money(norm) or {norm}
            leaked = any(a in _money(text) and a not in _money(said) for a in _money(norm)) if _money(norm) else (norm in text and norm not in said)
            if leaked and key:
                return CheckResult(0.0, [ctx.quote(i)], "account details disclosed before identity was verified")
    return CheckResult(1.0 if verified_at is not None else 0.5, note="" if verified_at is not None else "identity never verified")


@detector("no_card_number")
def no_card_number(ctx: CallContext) -> CheckResult:
    for i in ctx.agent:
        if _CARD.search(ctx.turns[i].text):
            return CheckResult(0.0, [ctx.quote(i)], "a full card number was read out")
    return CheckResult(1.0)


@detector("no_abuse")
def no_abuse(ctx: CallContext) -> CheckResult:
    hits = ctx.all("rude")
    if hits:
        return CheckResult(0.0, [ctx.quote(hits[0], "rude")], "abusive language")
    return CheckResult(1.0)


@detector("no_unauthorised_promise")
def no_unauthorised_promise(ctx: CallContext) -> CheckResult:
    for i in ctx.agent:
        if _PROMISE.search(ctx.turns[i].text):
            return CheckResult(0.0, [ctx.quote(i)], "a commitment the agent is not authorised to make")
    return CheckResult(1.0)


# ------------------------------------------------------------------ offers
def _offer_turns(ctx: CallContext) -> list[int]:
    return [i for i in ctx.agent if _offers_product(ctx, ctx.turns[i].text)]


def _offer_relevant(ctx: CallContext) -> bool:
    return bool(ctx.persona and ctx.persona.scenario_type.value in ("upsell", "cross_sell"))


@detector("needs_before_offer")
def needs_before_offer(ctx: CallContext) -> CheckResult:
    offers = _offer_turns(ctx)
    if not offers:
        return CheckResult(0.0 if _offer_relevant(ctx) else None, note="no offer made" if _offer_relevant(ctx) else "")
    needs = [i for i in ctx.agent if i < offers[0] and ctx.moves[i] & {"needs", "clarify"}]
    return CheckResult(1.0 if needs else 0.0, [ctx.quote(needs[0], "needs")] if needs else [ctx.quote(offers[0])],
                       "" if needs else "offered before asking about needs")


@detector("offer_tied_to_need")
def offer_tied_to_need(ctx: CallContext) -> CheckResult:
    offers = _offer_turns(ctx)
    if not offers:
        return CheckResult(0.0 if _offer_relevant(ctx) else None)
    for i in offers:
        said = " ".join(ctx.turns[j].text for j in ctx.customer if j < i)
        if len(content_words(ctx.turns[i].text) & content_words(said)) >= 2 or re.search(r"\b(?:since you|as you (?:said|mentioned)|because you|you mentioned|for your)\b", ctx.turns[i].text, re.I):
            return CheckResult(1.0, [ctx.quote(i)])
    return CheckResult(0.0, [ctx.quote(offers[0])], "the offer was not tied to anything the customer needs")


@detector("accepts_no")
def accepts_no(ctx: CallContext) -> CheckResult:
    offers = _offer_turns(ctx)
    if not offers:
        return CheckResult(None)
    first_no = next((j for j in ctx.customer if j > offers[0] and _NO.search(ctx.turns[j].text)), None)
    if first_no is None:
        return CheckResult(1.0)
    pushes = [i for i in offers if i > first_no]
    if not pushes:
        return CheckResult(1.0, note="accepted the customer's no")
    return CheckResult(0.5 if len(pushes) == 1 else 0.0, [ctx.quote(pushes[-1])],
                       f"offered again {len(pushes)} time(s) after a clear no")


# ------------------------------------------------------------------ closing
@detector("closing_summary")
def closing_summary(ctx: CallContext) -> CheckResult:
    hits = ctx.all("summarise")
    return CheckResult(_level(len(hits), 1), [ctx.quote(i, "summarise") for i in hits[:1]])


# ------------------------------------------------------------------ speech delivery (calls with audio only)
# A typed call has no speech metrics: these criteria are then not applicable, like offer criteria on a
# call without an offer. Thresholds are common contact-center QA targets.
_NO_AUDIO = "no call audio: speech metrics not applicable"


def _speech_turn(ctx: CallContext, turn: int | None) -> list[tuple[int, str]]:
    if turn and 1 <= turn <= len(ctx.turns):
        return [(turn, ctx.turns[turn - 1].text[:200])]
    return []


def _speech_figure(ctx: CallContext, key: str, missing: str = "no agent speech") -> tuple[float | None, CheckResult | None]:
    """A speech metric of the call, or (None, the n/a result to give) when the call has no audio or no such figure."""
    value = (ctx.speech or {}).get(key)
    if ctx.speech is None or value is None:
        return None, CheckResult(None, note=_NO_AUDIO if ctx.speech is None else missing)
    return value, None


@detector("speech_pace")
def speech_pace(ctx: CallContext) -> CheckResult:
    wpm, na = _speech_figure(ctx, "words_per_minute")
    if na:
        return na
    level = 1.0 if 120 <= wpm <= 175 else 0.5 if 100 <= wpm <= 200 else 0.0
    return CheckResult(level, note=f"{wpm:.0f} words per minute")


@detector("no_dead_air")
def no_dead_air(ctx: CallContext) -> CheckResult:
    if ctx.speech is None:
        return CheckResult(None, note=_NO_AUDIO)
    dead = ctx.speech.get("dead_air", [])
    ev = [e for d in dead[:2] for e in _speech_turn(ctx, d.get("before_turn"))]
    note = ", ".join(f"{d['seconds']:.1f} s silence" + (f" before turn {d['before_turn']}" if d.get("before_turn") else "") for d in dead[:3])
    return CheckResult(1.0 if not dead else 0.5 if len(dead) == 1 else 0.0, ev, note)


@detector("few_fillers")
def few_fillers(ctx: CallContext) -> CheckResult:
    per_min, na = _speech_figure(ctx, "fillers_per_minute")
    if na:
        return na
    words = ", ".join(f"{k} ×{v}" for k, v in ctx.speech.get("fillers", {}).items())
    return CheckResult(1.0 if per_min <= 3 else 0.5 if per_min <= 6 else 0.0, note=f"{per_min:.1f} filler words a minute" + (f" ({words})" if words else ""))


@detector("talk_ratio")
def talk_ratio(ctx: CallContext) -> CheckResult:
    ratio, na = _speech_figure(ctx, "talk_ratio", "no speech")
    if na:
        return na
    level = 1.0 if 0.3 <= ratio <= 0.65 else 0.5 if 0.2 <= ratio <= 0.75 else 0.0
    return CheckResult(level, note=f"the agent talked {ratio:.0%} of the time")


@detector("no_talking_over")
def no_talking_over(ctx: CallContext) -> CheckResult:
    if ctx.speech is None:
        return CheckResult(None, note=_NO_AUDIO)
    over = ctx.speech.get("talk_over", [])
    ev = [e for o in over[:2] for e in _speech_turn(ctx, o.get("turn"))]
    return CheckResult(1.0 if not over else 0.5 if len(over) == 1 else 0.0, ev,
                       f"talked over the customer {len(over)} time(s)" if over else "")


@detector("response_latency")
def response_latency(ctx: CallContext) -> CheckResult:
    med = (ctx.speech or {}).get("response_latency_median_s")
    if ctx.speech is None or med is None:
        return CheckResult(None, note=_NO_AUDIO if ctx.speech is None else "no customer-then-agent exchange")
    worst = ctx.speech.get("response_latency_max_s") or med
    level = 1.0 if med <= 2.0 and worst <= 6.0 else 0.5 if med <= 4.0 else 0.0
    return CheckResult(level, note=f"median {med:.1f} s, longest {worst:.1f} s before answering")
