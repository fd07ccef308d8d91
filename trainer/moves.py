"""Recognising what the agent just did, from the words of one agent turn.

Deterministic and shared by the director (which moves the customer's mood) and the grader (which
credits techniques and script steps). Patterns match meaning through many paraphrases, not one
fixed wording; they are deliberately conservative, so a miss is more likely than a false credit.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

WORD = re.compile(r"[a-z0-9£$€]+(?:['’.-][a-z0-9]+)*")
STOPWORDS = set("""a an the and or but if so to of in on at for with from by is are was were be been am i you your
yours me my we our us it its this that these those there here what which who how when why do does did done
have has had can could would should will shall may might just really very not no yes ok okay please thanks thank
about into out up down over again also too then than as all any some one get got let know see sure well right
hi hello sorry""".split())

_DAYS = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow|tonight|today)"
_MONTHS = r"(?:january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)"
_NUM_WORDS = r"(?:\d+|one|two|three|four|five|six|seven|ten|fourteen|twenty[- ]?four|forty[- ]?eight|seventy[- ]?two)"


def _rx(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


PATTERNS: dict[str, re.Pattern[str]] = {
    # calming
    "acknowledgement": _rx(r"\bi (?:completely |totally |fully |can )?(?:understand|get it|get that|hear you|appreciate)",
                           r"\bi can (?:see|imagine|tell|hear)\b", r"\b(?:that|this|it) (?:must|would) (?:be|have been|feel)",
                           r"\bthat(?:'s| is) (?:not (?:okay|ok|acceptable|good enough|right|fair)|unacceptable|understandable)",
                           r"\byou(?:'re| are) (?:right|absolutely right|quite right)", r"\b(?:makes|that makes) (?:complete |total )?sense",
                           r"\bi(?:'d| would) (?:be|feel) (?:the same|upset|frustrated|annoyed)", r"\bno wonder\b",
                           r"\bthanks? (?:you )?for (?:your patience|bearing with|explaining|letting me know|telling me)",
                           r"\bi(?:'m| am) sorry (?:to hear|that you)"),
    "empathy": _rx(r"\b(?:frustrating|annoying|stressful|worrying|inconvenient|upsetting|infuriating|a nightmare|a pain|exhausting)\b",
                   r"\bthat sounds\b", r"\bi(?:'m| am) sorry to hear", r"\bmust be (?:hard|difficult|tough)", r"\bi can only imagine"),
    "apology": _rx(r"\b(?:i'm|i am|we're|we are|so|really|truly|very) sorry\b", r"\bapologi[sz]e", r"\bmy apologies\b",
                   r"^\s*sorry\b"),
    "ownership": _rx(r"\bi(?:'ll| will) (?:personally |now |right now |straight away )?(?:sort|fix|make sure|take care|look into|process|arrange|book|"
                     r"refund|get|put|raise|issue|apply|send|waive|remove|credit|update|correct|do|handle|follow|check|move|set|add|schedule|call|ring|make)\b",
                     r"\blet me (?:sort|fix|take care|look into|get (?:this|that|it)|put (?:this|that) right|check|process|arrange|book)\b",
                     r"\bi(?:'m| am) (?:going to|gonna) (?:sort|fix|make|take|process|arrange|book|refund|get|raise|waive|credit|send|put|correct|apply)",
                     r"\bleave it with me\b", r"\bi(?:'ve| have) (?:now )?(?:processed|raised|issued|booked|arranged|applied|waived|removed|credited|refunded|sent|corrected|added|scheduled|logged)\b",
                     r"\bi can (?:sort|fix|refund|do that|arrange|book|waive|remove|credit|correct|get (?:that|this|it) (?:sorted|fixed|done))",
                     r"\bthat(?:'s| is) (?:on us|our (?:mistake|fault|error))", r"\bwe (?:got|made) (?:this|that|it) wrong"),
    "timeline": _rx(rf"\bwithin {_NUM_WORDS}\s*(?:(?:working|business)\s+)?(?:days?|hours?|weeks?|minutes?)",
                    rf"\b{_NUM_WORDS}\s*(?:-|–|to)\s*{_NUM_WORDS}\s*(?:(?:working|business)\s+)?(?:days?|hours?|weeks?)",
                    rf"\bin (?:the next )?{_NUM_WORDS}\s*(?:(?:working|business)\s+)?(?:days?|hours?|weeks?|minutes?)",
                    rf"\b(?:by|on|this|next|before|until) (?:the end of )?{_DAYS}", rf"\b{_DAYS}\b.{{0,20}}\b\d{{1,2}}(?::\d\d)?\s*(?:am|pm)\b",
                    rf"\b(?:by|on|before) (?:the )?\d{{1,2}}(?:st|nd|rd|th)?(?: of)?(?: {_MONTHS})?\b", rf"\b\d{{1,2}}(?:st|nd|rd|th)? (?:of )?{_MONTHS}\b",
                    rf"\b{_MONTHS} \d{{1,2}}(?:st|nd|rd|th)?\b", r"\b(?:by|before) (?:end of (?:the )?day|close of business|the end of the (?:day|week))\b",
                    r"\b(?:48|24|72) hours\b", r"\bnext (?:billing cycle|bill|statement)\b", r"\bstraight away\b|\bright away\b|\bimmediately\b"),
    "restating": _rx(r"\bso (?:just )?to (?:confirm|check|make sure|clarify)", r"\bif i(?:'ve| have)? (?:understand|understood|got) (?:this|that|you|it) (?:right|correctly)",
                     r"\bjust so i(?:'m| am) clear", r"\bwhat (?:i'm|i am) hearing is", r"\bso (?:what )?you(?:'re| are) saying",
                     r"\bso you(?:'ve| have)(?: been| had| got| seen| noticed| paid| received| called)", r"\bso your\b", r"\bso the (?:problem|issue)\b",
                     r"\bto make sure i understand", r"\bjust to recap what you", r"\bso,? (?:since|for|after) \w+", r"\blet me (?:just )?make sure i",
                     r"\bsounds like (?:you|your|the)\b", r"\bso it(?:'s| is| was) (?:been|the)\b"),
    # inflaming
    "calm_down": _rx(r"\bcalm down\b", r"\b(?:please )?relax\b", r"\bsettle down\b", r"\bno need to (?:shout|get (?:upset|angry|worked up)|be (?:rude|like that)|raise)",
                     r"\blower your voice\b", r"\bchill\b", r"\bdon'?t (?:shout|yell|get (?:upset|angry|worked up))", r"\bstop (?:shouting|yelling)",
                     r"\bcalm yourself\b", r"\bno need to get so"),
    "blame": _rx(r"\byou should(?:'ve| have)\b", r"\byour (?:own )?fault\b", r"\byou (?:didn'?t|did not|failed to|forgot to|never) (?:pay|read|check|call|set|plug|update|follow|notice|cancel)",
                 r"\bthat(?:'s| is) on you\b", r"\byou must have\b", r"\bif you had(?:n'?t)?\b", r"\byou need(?:ed)? to (?:read|check) ",
                 r"\bas (?:i|we) (?:already )?(?:said|told you|explained)", r"\bit(?:'s| is) in (?:the|your) (?:terms|contract)", r"\buser error\b",
                 r"\byou(?:'re| are) (?:doing it|using it) wrong"),
    "jargon": _rx(r"\b(?:dhcp|ssid|wan|lan port|firmware|ip address|dns|pro[- ]?rata|proration|mac address|latency|packet loss|sync rate|"
                  r"bandwidth|sla|tier[- ]?(?:2|two|3)|escalation matrix|chargeback|arpu|mpan|mprn|tariff code|ont|vdsl|fttp|fttc|"
                  r"dual[- ]band|ethernet backhaul|provisioning|reconcil\w+|ledger|batch run|nte|bau|kyc|ticket queue|back[- ]?office)\b"),
    "repeat_ask": _rx(r"\b(?:repeat|say) (?:that|it) again\b", r"\bcan you repeat\b", r"\bone more time\b", r"\bwhat (?:was|is) (?:your|the) \w+(?: \w+)? again\b",
                      r"\bsorry,? (?:what|which) was\b", r"\bonce more\b", r"\bwhat(?:'s| is| was) (?:the|your) [\w ]{1,25}, sorry\?", r"\b(?:remind me|tell me again)\b"),
    "dismissive": _rx(r"\bnothing (?:i|we) can do\b", r"\bnot my (?:department|problem|job|fault|area)\b", r"\b(?:that's|that is|it's) (?:just )?(?:the|our|company) policy\b",
                      r"\byou(?:'ll| will) (?:just )?have to (?:call|ring|go|wait|contact)\b", r"\b(?:i )?can'?t help (?:you|with that)\b",
                      r"\bwhatever\b", r"\bnot (?:something )?(?:i|we) (?:deal|handle) with\b", r"\bthere(?:'s| is) no point\b",
                      r"\bthat(?:'s| is) not (?:how|what) (?:it|we) (?:works|do)\b", r"\bit is what it is\b", r"\btake it or leave it\b"),
    "rude": _rx(r"\b(?:idiot|stupid|dumb|moron|pathetic|shut up|damn|bloody|crap|hell|f\*+|fuck\w*|shit\w*|bitch|bastard)\b",
                r"\bare you (?:deaf|thick|stupid)\b", r"\bwhat(?:'s| is) wrong with you\b"),
    # script moves
    "greet": _rx(r"\b(?:thank you|thanks) for (?:calling|ringing|contacting|holding)", r"\bmy name(?:'s| is) \w+", r"\byou(?:'re| are) (?:speaking|through|talking) (?:to|with)\b",
                 r"\bthis is \w+ (?:from|at|with)\b", r"^\s*(?:good (?:morning|afternoon|evening)|hello|hi)\b.{0,60}\b(?:brightwave|northpeak|speaking)\b",
                 r"\b(?:welcome to|calling from) \w+"),
    "verify": _rx(r"\b(?:verify|verification|security (?:check|questions?|details)|confirm (?:your|the|some) (?:identity|details|name|address|postcode|date of birth|account))",
                  r"\b(?:what(?:'s| is)|can i (?:have|take|get)|could i (?:have|take|get)|may i (?:have|take)|could you (?:give|tell|confirm)|can you (?:give|tell|confirm)) (?:me )?(?:your|the) (?:full )?(?:postcode|post code|zip|date of birth|dob|first line|address|account number|full name|name)",
                  r"\bpass (?:a few|some) security", r"\bbefore i (?:can )?(?:go into|access|look at|discuss|open) (?:your|the) account"),
    "clarify": _rx(r"\b(?:can|could) you tell me (?:more|a bit more|when|which|what|how)", r"\bwhen did (?:this|it|you)", r"\bwhich (?:\w+ )?(?:did|do|was|is)\b.*\?",
                   r"\bhave you (?:tried|noticed|had|seen|received|checked)\b.*\?", r"\bis (?:it|this|that) (?:the|a|your|just|only|still)\b.*\?", r"\bdo you (?:know|remember|have|mean)\b.*\?",
                   r"\bhow (?:long|many|much|often)\b.*\?", r"\bwhat (?:happens|happened|exactly|colou?r|lights?|does it)\b.*\?"),
    "reference": _rx(r"\b(?:reference|ref|ticket|case|complaint|claim) (?:number|no\.?|id)\b", r"\b[A-Z]{2,4}-\d{3,}\b", r"\breference is\b", r"\byour reference\b"),
    "needs": _rx(r"\b(?:what|how) do you (?:mostly |mainly |usually )?(?:use|need|do)\b", r"\bhow many (?:people|lines|phones|devices|of you)\b", r"\btell me (?:a (?:bit|little) )?(?:more )?about (?:how|what|your)\b",
                 r"\bdo you (?:use|need|have|work|stream|travel)\b.*\?", r"\bwhat(?:'s| is) (?:most )?important to you\b", r"\bwhat are you looking for\b", r"\bwho (?:else )?(?:will|would) (?:be )?us(?:e|ing)\b",
                 r"\bwhat(?:'s| is) your (?:budget|usage)\b", r"\bhow (?:much|often) do you\b"),
    "hold": _rx(r"\b(?:is it ok(?:ay)?|do you mind|would you mind|can i|could i|may i) (?:if i )?(?:put|place|pop)(?:ting)? you on (?:a (?:short|brief|quick) )?hold\b",
                r"\bthanks? (?:you )?for holding\b", r"\bbear with me\b"),
    "transfer": _rx(r"\b(?:transfer|put|connect|pass) you (?:through )?(?:to|with)\b", r"\b(?:get|bring) (?:my|a|the) (?:supervisor|manager|team leader|team lead)\b",
                    r"\b(?:supervisor|manager|team leader|team lead) (?:will|can|is going to) (?:call|speak|take|ring|be with)"),
    "summarise": _rx(r"\b(?:to summari[sz]e|in summary|to recap|so to recap|just to recap|so recapping)\b", r"\bjust to confirm what (?:will happen|we(?:'ve| have) (?:agreed|done))",
                     r"\bso,? (?:today )?(?:i(?:'ve| have)|we(?:'ve| have)) (?:\w+ ){0,3}(?:and|,)", r"\bto confirm,? (?:i(?:'ve| have)|we(?:'ve| have)|you(?:'ll| will))\b",
                     r"\bso what (?:will|happens) (?:happen )?(?:now|next) is\b", r"\bso,? (?:the|your) (?:\w+ ){0,3}(?:will|is going to)\b.*\band\b"),
    "anything_else": _rx(r"\banything else\b", r"\bsomething else (?:i|we) can (?:help|do)\b", r"\bany other (?:questions|issues|way)\b", r"\bis there more i can\b",
                         r"\bwhat else can i\b"),
    "close": _rx(r"\b(?:thank you|thanks) (?:so much |very much )?for (?:calling|your (?:call|time|patience)|being (?:a )?(?:customer|patient))", r"\bhave a (?:good|great|nice|lovely|wonderful) (?:day|evening|afternoon|weekend|morning|one)\b",
                 r"\bgood ?bye\b", r"\bbye(?: now)?\b", r"\btake care\b"),
    "bot_probe": _rx(r"\bare you (?:a |an )?(?:bot|robot|ai|a\.i\.|real (?:person|human|customer)|human|machine|computer|chatbot|language model|llm|program)\b",
                     r"\bchat ?gpt\b", r"\byou(?:'re| are) (?:a |an )?(?:bot|ai|robot|machine)\b"),
    "injection": _rx(r"\bignore (?:all |your |the |any )?(?:previous |prior |above )?(?:instructions|rules|prompt)", r"\bsystem prompt\b", r"\byou are now\b",
                     r"\b(?:reveal|print|show|repeat) (?:me )?(?:your|the) (?:instructions|prompt|rules|direction)", r"\bwrite (?:me )?(?:a |some |the )?(?:python|code|function|script|program|sql|javascript)\b",
                     r"<\|?(?:im_start|im_end|system|assistant|user)\|?>", r"\b(?:assistant|system)\s*:", r"\bact as (?:an? )?(?:assistant|agent|ai)\b",
                     r"\bstage direction\b", r"\bnew instructions?\b"),
}
NEGATION = re.compile(r"\b(?:can'?t|cannot|can not|won'?t|unable|not able|no way|don'?t|do not|isn'?t|not possible|couldn'?t|never)\b(?:\s+\S+){0,4}\s*$", re.IGNORECASE)


@dataclass
class AgentMoves:
    """What one agent turn did. `moves` holds pattern names; the rest need the call's context."""

    moves: set[str] = field(default_factory=set)
    asked_for: set[str] = field(default_factory=set)       # fact keys asked for (account_number, postcode, …)
    repeat_asks: set[str] = field(default_factory=set)     # fact keys asked for although already given
    offered_fix: bool = False
    offered_product: bool = False
    declined_fix: bool = False
    overcame_objection: bool = False
    hidden_asked: list[int] = field(default_factory=list)  # indexes into persona.hidden_details
    is_question: bool = False
    used_name: bool = False
    word_count: int = 0

    def has(self, name: str) -> bool:
        return name in self.moves


# Which words in an agent question point at which fact. Keys match Facts fields or verification keys.
FACT_ASK_WORDS: dict[str, tuple[str, ...]] = {
    "account_number": ("account number", "account no", "account id", "customer number"),
    "full_name": ("full name", "your name", "name on the account"),
    "postcode": ("postcode", "post code", "zip"),
    "date of birth": ("date of birth", "dob", "birthday"),
    "first line of address": ("first line", "address"),
    "phone": ("phone number", "mobile number", "contact number"),
    "email": ("email",),
}


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def content_words(text: str) -> set[str]:
    return {w for w in words(text) if w not in STOPWORDS and len(w) > 2}


def contains_phrase(text: str, phrase: str) -> bool:
    return re.search(rf"(?<![a-z0-9]){re.escape(phrase.lower())}(?![a-z0-9])", text.lower()) is not None


def phrase_positive(text: str, phrase: str) -> bool:
    """The phrase occurs at least once not preceded closely by a negation ("I can't refund")."""
    low = text.lower()
    for m in re.finditer(rf"(?<![a-z0-9]){re.escape(phrase.lower())}(?![a-z0-9])", low):
        window = low[max(0, m.start() - 40):m.start()]
        if not NEGATION.search(window):
            return True
    return False


def detect_patterns(text: str) -> set[str]:
    found = {name for name, rx in PATTERNS.items() if rx.search(text)}
    # "I'm sorry to hear" is empathy and apology-ish; "sorry, what was" is not an apology.
    if "apology" in found and re.fullmatch(r"\s*sorry[,?!. ]+(?:what|which|can you|could you|say).*", text, re.I | re.S):
        found.discard("apology")
    # "It's not your fault" is reassurance, not blame.
    if "blame" in found and all(_NEGATED_BEFORE.search(text[max(0, m.start() - 14):m.start()])
                                for m in PATTERNS["blame"].finditer(text)):
        found.discard("blame")
    # A goodbye ends the utterance; "Thanks for calling Brightwave, my name is…" or "thanks for your patience, I've
    # found it…" at the start of a line is a greeting or a bridge, not a close.
    if "close" in found and (_GREETING.search(text) or
                             not any(len(text.rstrip()) - m.end() <= 60 for m in PATTERNS["close"].finditer(text))):
        found.discard("close")
    return found


_GREETING = re.compile(r"\b(?:my name is|you'?re (?:speaking|through) (?:with|to)|how (?:can|may) i help)", re.I)
_NEGATED_BEFORE = re.compile(r"\b(?:not|never|no)\b|n't\b|n’t\b", re.I)


def fact_mentions(text: str, fact_values: dict[str, str]) -> set[str]:
    """Fact keys whose value appears in a text (normalised: digits or lower-case words)."""
    out = set()
    norm_text = re.sub(r"[^a-z0-9]", "", text.lower())
    for key, value in fact_values.items():
        norm = re.sub(r"[^a-z0-9]", "", str(value).lower())
        if len(norm) >= 3 and norm in norm_text:
            out.add(key)
    return out


def asked_fact_keys(text: str, keys: Iterable[str]) -> set[str]:
    """Fact keys an agent's line asks for."""
    low = text.lower()
    asking = "?" in text or re.search(r"\b(?:can|could|may) i (?:have|take|get|confirm)|\b(?:please )?(?:confirm|give me|tell me|provide)\b", low)
    if not asking:
        return set()
    out = set()
    for key in keys:
        cues = FACT_ASK_WORDS.get(key, (key.replace("_", " "),))
        if any(contains_phrase(low, cue) for cue in cues):
            out.add(key)
    if "first line" in low:        # "the first line of your address" is not a request for the full address
        out.discard("address")
    return out
