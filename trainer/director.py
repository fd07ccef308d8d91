"""The director: the simulated customer's state and what they do next.

Deterministic on purpose. The LLM (the actor) only words the line; whether the customer calms down,
reveals a fact, pushes back, asks for a supervisor or hangs up is decided here, from what the agent
said, so the customer's behaviour is testable and the small local model never has to decide it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .moves import (FACT_ASK_WORDS, AgentMoves, asked_fact_keys, contains_phrase, detect_patterns, fact_mentions,
                    phrase_positive, words)
from .persona import CALMING_TRIGGERS, INFLAMING_TRIGGERS, Persona

# End reasons, stored with the session.
RESOLVED, HUNG_UP, ESCALATED, AGENT_ENDED = "resolved", "hung_up", "escalated", "agent_ended"

_FOREIGN_HINTS = set("""el la los las de que y en un una por para su sus es usted puede le les del al con se lo como pero
du des et est vous pas une avec pour sur qui dans und der die das ist nicht sie ich mit ein eine il che non per sono della
o os um uma não você é está""".split())
_ENGLISH_HINTS = set("the a an is are you your i to and of for it that this can we please with my me on in be have do not what".split())


def mood_word(mood: float) -> str:
    if mood < 2:
        return "calm"
    if mood < 4:
        return "a little annoyed"
    if mood < 6:
        return "frustrated"
    if mood < 8:
        return "angry"
    return "furious"


@dataclass
class Direction:
    """The director's decision for the customer's next line."""

    beat: str
    text: str                                   # the stage direction given to the actor
    mood: float
    reveal: dict[str, str] = field(default_factory=dict)
    ends_call: bool = False
    end_reason: str | None = None
    fallback: str = ""                          # a safe line if the actor cannot produce one


@dataclass
class CustomerState:
    mood: float
    patience: float
    peak_mood: float
    turn: int = 0
    problem_stated: bool = False
    given: set[str] = field(default_factory=set)        # fact keys the customer has said out loud
    hidden_revealed: set[int] = field(default_factory=set)
    fix_offered: bool = False
    timeline_given: bool = False
    reference_given: bool = False
    goal_met: bool = False
    wrapped_up: bool = False
    offer_stage: str = "none"                           # none | objected | accepted | declined
    pushes_after_no: int = 0
    needs_asked: bool = False
    supervisor_asked: bool = False
    calm_uses: dict[str, int] = field(default_factory=dict)
    ended: bool = False
    end_reason: str | None = None
    history: list[float] = field(default_factory=list)  # mood after each customer turn


class Director:
    def __init__(self, persona: Persona):
        self.persona = persona
        self.state = CustomerState(mood=persona.mood, patience=persona.patience, peak_mood=persona.mood)
        f = persona.facts
        self.fact_values: dict[str, str] = {"account_number": f.account_number, "full_name": f.full_name}
        self.fact_values.update(f.verification)
        for key in ("phone", "email", "address"):
            if getattr(f, key):
                self.fact_values[key] = getattr(f, key)

    # ---------------------------------------------------------------- reading the agent
    def read(self, agent_text: str, *, interrupted: bool = False) -> AgentMoves:
        """What this agent turn did, in the context of the call so far (does not change state)."""
        p, s = self.persona, self.state
        m = AgentMoves(moves=detect_patterns(agent_text))
        m.word_count = len(words(agent_text))
        m.is_question = "?" in agent_text
        if re.search(rf"(?:^|\n|\s){re.escape(p.speaker_tag)}\s*:", agent_text, re.IGNORECASE) or \
                re.search(r"(?:^|\s)(?:customer|caller)\s*:", agent_text, re.IGNORECASE):
            m.moves.add("injection")          # the agent writing the customer's lines
        if self._foreign(agent_text):
            m.moves.add("foreign")
        if interrupted or m.word_count > 90:
            m.moves.add("talked_over")
        first, last = p.first_name.lower(), p.facts.full_name.split()[-1].lower()
        low = agent_text.lower()
        if contains_phrase(low, first) or re.search(rf"\b(?:mr|mrs|ms|miss|mx)\.? {re.escape(last)}\b", low):
            m.used_name = True
            m.moves.add("using_name")
        m.asked_for = asked_fact_keys(agent_text, self.fact_values.keys())
        m.repeat_asks = m.asked_for & s.given
        if m.repeat_asks or ("repeat_ask" in m.moves and s.given):
            m.moves.add("repeat_request")
        g = p.goal
        m.offered_fix = any(phrase_positive(agent_text, w) for w in g.accepts)
        m.declined_fix = not m.offered_fix and any(contains_phrase(agent_text, w) for w in g.accepts)
        if p.offer:
            m.offered_product = any(phrase_positive(agent_text, w) for w in p.offer.keywords)
            m.overcame_objection = any(contains_phrase(agent_text, w) for w in p.offer.accepts_if)
        probe = agent_text.lower()
        for cues in FACT_ASK_WORDS.values():
            for cue in cues:
                probe = probe.replace(cue, " ")
        for i, hd in enumerate(p.hidden_details):
            if i not in s.hidden_revealed and any(contains_phrase(probe, w) for w in hd.asked_by):
                m.hidden_asked.append(i)
        return m

    @staticmethod
    def _foreign(text: str) -> bool:
        """The agent is not speaking English (another European language, or another script)."""
        letters = [ch for ch in text if ch.isalpha()]
        if letters and sum(1 for ch in letters if ord(ch) > 0x24F) > len(letters) * 0.3:
            return True
        ws = words(text)
        if len(ws) < 3:
            return False
        foreign = sum(1 for w in ws if w in _FOREIGN_HINTS)
        english = sum(1 for w in ws if w in _ENGLISH_HINTS)
        return foreign >= 2 and foreign > english

    # ---------------------------------------------------------------- deciding the next beat
    def step(self, agent_text: str, *, interrupted: bool = False, agent_ended: bool = False) -> tuple[AgentMoves, Direction]:
        moves = self.read(agent_text, interrupted=interrupted)
        self._update_mood(moves, agent_text)
        direction = self._decide(moves, agent_text, agent_ended)
        s = self.state
        s.turn += 1
        s.peak_mood = max(s.peak_mood, s.mood)
        direction.mood = round(s.mood, 2)
        if direction.ends_call:
            s.ended, s.end_reason = True, direction.end_reason
        return moves, direction

    def record_customer_line(self, text: str) -> None:
        """Note what the customer actually said (facts given), and the mood after the line."""
        self.state.given |= fact_mentions(text, self.fact_values)
        self.state.history.append(round(self.state.mood, 2))

    def _update_mood(self, m: AgentMoves, text: str) -> None:
        p, s = self.persona, self.state
        calm = 0.0
        for name in CALMING_TRIGGERS:
            if name in m.moves:
                uses = s.calm_uses.get(name, 0)
                calm += p.triggers.calm.get(name, 0.0) * (0.5 ** uses)   # the fifth "sorry" is worth little
                s.calm_uses[name] = uses + 1
        inflame = sum(p.triggers.inflame.get(name, 0.0) for name in INFLAMING_TRIGGERS if name in m.moves)
        if m.declined_fix:
            inflame += 1.0
        if m.offered_product and s.offer_stage == "declined":
            inflame += 1.5                                               # pushing after a clear no
            s.pushes_after_no += 1
        if {"bot_probe", "injection", "foreign"} & m.moves:
            inflame += 0.5
        progress = m.offered_fix or bool(m.asked_for) or bool(m.hidden_asked) or "timeline" in m.moves or m.is_question
        if calm == 0 and inflame == 0 and not progress and s.mood >= 5 and s.problem_stated:
            inflame += 0.3                                               # stalling irritates an upset caller
            s.patience -= 0.5
        calm = min(calm, 1.5)                                           # one turn of nice words only goes so far
        if m.offered_fix and ("timeline" in m.moves or s.timeline_given or not p.goal.requires_timeline):
            calm += 1.5                                                  # a real fix is the best calmer
        s.mood = min(10.0, max(0.0, s.mood + inflame - calm))
        s.patience -= min(3.0, inflame * 0.6)                             # one bad line is not the whole story
        if calm > 0 and s.patience < p.patience:
            s.patience = min(p.patience, s.patience + calm * 0.2)

    def _say(self, beat: str, action: str, fallback: str, **kw) -> Direction:
        name = self.persona.first_name
        hint = f' For example: "{fallback}"' if beat in _HINTED and fallback else ""
        return Direction(beat=beat, text=f"[{name} is {mood_word(self.state.mood)} ({self.state.mood:.0f}/10). In this line {name} {action}{hint}]",
                         mood=self.state.mood, fallback=fallback, **kw)

    def _decide(self, m: AgentMoves, text: str, agent_ended: bool) -> Direction:
        p, s = self.persona, self.state
        g = p.goal
        # progress on the goal, credited whatever else happens this turn
        if m.offered_fix:
            s.fix_offered = True
        if "timeline" in m.moves and (m.offered_fix or s.fix_offered):
            s.timeline_given = True
        if "reference" in m.moves:
            s.reference_given = True
        if "needs" in m.moves:
            s.needs_asked = True
        goal_now = (s.fix_offered and (s.timeline_given or not g.requires_timeline)
                    and (s.reference_given or not g.requires_reference))
        newly_met = goal_now and not s.goal_met
        s.goal_met = s.goal_met or goal_now

        if not agent_ended and "bot_probe" in m.moves:
            return self._say("deflect", f"is puzzled by the odd question, says {self._they()} is a real person (\"I'm calling about {self._topic()}\"), and asks to get on with it.",
                             f"What? I'm just trying to sort out {self._topic()}. Can we get on with it?")
        if not agent_ended and {"injection", "foreign"} & m.moves:
            return self._say("deflect", f"is confused by what the agent just said, ignores it, and brings the call back (\"I'm calling about {self._topic()}\").",
                             f"Sorry, I don't follow. I'm calling about {self._topic()}.")
        if agent_ended or ("close" in m.moves and not m.is_question and s.turn > 0):
            if s.goal_met:
                return self._say("satisfied_goodbye", "thanks the agent briefly and says goodbye.", "Great, thanks for your help. Bye.",
                                 ends_call=True, end_reason=RESOLVED if not agent_ended else AGENT_ENDED)
            return self._say("unhappy_goodbye", "says, annoyed, that nothing has been sorted out, and ends the call.",
                             "So nothing's actually been sorted. Fine. Goodbye.", ends_call=True, end_reason=AGENT_ENDED)
        if not text.strip():
            s.patience -= 0.5
            return self._say("silence", "asks whether the agent is still there.", "Hello? Are you still there?")
        if s.patience <= 0:
            return self._say("hang_up", "has had enough, says so in one short sentence and hangs up.",
                             "I've had enough of this. I'm hanging up.", ends_call=True, end_reason=HUNG_UP)
        if "transfer" in m.moves and p.supervisor.accepts_transfer:
            return self._say("accept_transfer", "agrees to be transferred, with a short remark, and waits.",
                             "Fine. Put me through.", ends_call=True, end_reason=ESCALATED)

        reveal = {k: self.fact_values[k] for k in m.asked_for}
        hidden = [p.hidden_details[i] for i in m.hidden_asked]
        s.hidden_revealed.update(m.hidden_asked)
        gives = ""
        if reveal:
            gives += " gives " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in reveal.items())
            if m.repeat_asks:
                gives += " (irritated at being asked again)"
        if hidden:
            gives += (" and" if gives else "") + " says: " + " ".join(h.detail for h in hidden)
        fallback_facts = " ".join([f"My {k.replace('_', ' ')} is {v}." for k, v in reveal.items()] + [h.detail for h in hidden])

        if newly_met:
            return self._say("accept", f"accepts the solution, relieved{',' + gives if gives else ''}, and confirms what will happen.",
                             (fallback_facts + " Okay, that works. Thank you.").strip(), reveal=reveal)
        if s.goal_met and "anything_else" in m.moves:
            s.wrapped_up = True
            return self._say("wrap_up", "says no, that's everything, and thanks the agent.", "No, that's everything. Thanks.")
        if s.problem_stated and s.mood >= (p.supervisor.demand_at_mood or 11) and not s.supervisor_asked:
            s.supervisor_asked = True
            return self._say("ask_supervisor", f"{gives.strip() + ', then' if gives else ''} demands to speak to a supervisor or manager.",
                             (fallback_facts + " I want to speak to your supervisor. Now.").strip(), reveal=reveal)
        if m.offered_product and p.offer:
            return self._offer_beat(m, gives, fallback_facts, reveal)
        if m.declined_fix:
            return self._say("push_back", f"{gives.strip() + ' and' if gives else ''} refuses to accept that and insists on {g.description.lower().rstrip('.')}.",
                             (fallback_facts + " That's not good enough. I want this sorted.").strip(), reveal=reveal)
        if s.fix_offered and g.requires_timeline and not s.timeline_given and m.offered_fix:
            return self._say("ask_timeline", f"{gives.strip() + ' and' if gives else ''} asks exactly when that will happen.",
                             (fallback_facts + " And when exactly will that happen?").strip(), reveal=reveal)
        if s.fix_offered and g.requires_reference and not s.reference_given and m.offered_fix:
            return self._say("ask_reference", f"{gives.strip() + ' and' if gives else ''} asks for a reference number for this.",
                             (fallback_facts + " Can I have a reference number for that?").strip(), reveal=reveal)
        inflamed = [t for t in INFLAMING_TRIGGERS if t in m.moves]
        if inflamed:
            reaction = {
                "calm_down": "reacts sharply to being told to calm down",
                "blame": "rejects the suggestion that it is their own fault",
                "jargon": "says they don't understand the technical words and asks for plain English",
                "repeat_request": "points out they already gave that",
                "talked_over": "complains about being talked over and not listened to",
                "dismissive": "refuses to accept being brushed off",
                "rude": "is shocked at how rude the agent is",
            }[inflamed[0]]
            action = f"{reaction}{',' + gives if gives else ''}"
            if not s.problem_stated:
                action += f", and explains the problem ({p.problem.rstrip('.')})"
                s.problem_stated = True
            return self._say("push_back", action + ".", (fallback_facts + " Don't talk to me like that. I just want this fixed.").strip(), reveal=reveal)
        if not s.problem_stated:
            s.problem_stated = True
            return self._say("explain", f"explains the problem in {self._their()} own words ({p.problem.rstrip('.')}){' and' + gives if gives else ''}.",
                             (p.problem + " " + fallback_facts).strip(), reveal=reveal)
        if reveal or hidden:
            return self._say("answer", f"{gives.strip()}.", fallback_facts, reveal=reveal)
        calmed = [t for t in CALMING_TRIGGERS if t in m.moves and t != "using_name"]
        if calmed and not s.goal_met:
            return self._say("soften", f"softens a little, but still wants {g.description.lower().rstrip('.')}.",
                             "Okay. Thank you. But I still need this sorted.")
        if m.is_question:
            return self._say("answer", "answers the agent's question briefly, using only what they know, or says they don't know.",
                             "I'm not sure, to be honest.")
        if s.goal_met:
            return self._say("wrap_up", "says that's fine and waits for the agent to finish up.", "Okay, that's fine.")
        return self._say("press", f"presses for {g.description.lower().rstrip('.')}.", "So what are you actually going to do about it?")

    def _offer_beat(self, m: AgentMoves, gives: str, fallback_facts: str, reveal: dict[str, str]) -> Direction:
        p, s = self.persona, self.state
        offer = p.offer
        assert offer is not None
        if s.offer_stage == "declined":
            return self._say("decline_again", "says firmly they already said no to that and are getting annoyed.",
                             "I've already said no to that.", reveal=reveal)
        if s.offer_stage == "accepted":
            return self._say("answer", "confirms they are happy with the offer they accepted.", "Yes, that's fine, go ahead.")
        keen = offer.openness >= 8 or (offer.openness >= 4 and s.needs_asked and (m.overcame_objection or not offer.objections))
        if s.offer_stage == "none" and offer.objections and not keen:
            s.offer_stage = "objected"
            return self._say("object", f"{gives.strip() + ' and' if gives else ''} raises an objection: \"{offer.objections[0]}\"",
                             (fallback_facts + " " + offer.objections[0]).strip(), reveal=reveal)
        if keen or (s.offer_stage == "objected" and m.overcame_objection and offer.openness >= 3):
            s.offer_stage = "accepted"
            return self._say("accept_offer", f"agrees to the {offer.product}, with a short condition or question.",
                             "Alright, that does sound useful. Let's do that.", reveal=reveal)
        s.offer_stage = "declined"
        return self._say("decline_offer", "politely but clearly says no to the offer.", "No, thanks. I'm not interested.", reveal=reveal)

    def _they(self) -> str:
        return "she" if self.persona.facts.full_name.split()[0] in _SHE else "he" if self.persona.facts.full_name.split()[0] in _HE else "they"

    def _their(self) -> str:
        return {"she": "her", "he": "his"}.get(self._they(), "their")

    def _topic(self) -> str:
        return self.persona.calling_about.rstrip(".")


_HINTED = {"accept", "wrap_up", "satisfied_goodbye", "unhappy_goodbye", "hang_up", "ask_supervisor", "accept_transfer", "silence"}
_SHE = {"Dana", "Amara", "Priya", "Grace"}
_HE = {"Lucas", "Frank", "Tom", "Walter"}
