"""Voice, with fakes passed in: the turn loop, sentence chunking, speech metrics and their rubric
criteria, recording upload (generated stereo / mono / MP3 files), and the persona voice field."""
from __future__ import annotations

import re
import wave
from pathlib import Path

import numpy as np
import pytest
import yaml
from pydantic import ValidationError

from trainer.accounts import SYSTEM
from trainer.llm.fake import FakeLLM, down
from trainer.persona import Persona
from trainer.service import Frontline
from trainer.voice.audio import STT_RATE, to_stt, wav_bytes
from trainer.voice.fakes import FakeExhausted, FakeSTT, FakeTTS, energy_spans, transcript
from trainer.voice.loop import SentenceChunker, VoiceTurnLoop
from trainer.voice.metrics import Utterance, compute, fillers_in, markdown
from trainer.voice.recording import split_mono, to_turns
from trainer.voice.service import VoiceConfig, VoicePractice
from trainer.voice.store import VoiceStore

from .conftest import in_character_responder

ROOT = Path(__file__).resolve().parent.parent


def no_spans(audio):
    return [(0.5, len(audio) / STT_RATE - 0.2)]


@pytest.fixture
def app(store, catalog, dana):
    return Frontline(store=store, catalog=catalog, customer_backend=FakeLLM(responder=in_character_responder(dana)), sleep=lambda s: None)


def mic(seconds: float = 2.0, rate: int = 48000) -> tuple[int, np.ndarray]:
    """What Gradio's microphone hands over: (rate, int16 samples)."""
    t = np.arange(int(seconds * rate)) / rate
    return rate, (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype(np.int16)


# ------------------------------------------------------------------ chunking
def test_chunker_cuts_sentences_and_an_early_first_clause():
    c = SentenceChunker()
    line = "I was charged twice, forty-two pounds each time. Can you fix it today? Please"
    got = []
    for i in range(1, len(line) + 1):             # fed as a token stream would arrive
        got += c.feed(line[:i])
    got += c.finish(line)
    assert got == ["I was charged twice,", "forty-two pounds each time.", "Can you fix it today?", "Please"]
    c2 = SentenceChunker()
    assert c2.feed("Yes, it's 55-2041. ") == ["Yes, it's 55-2041."]          # "Yes," is too short to voice alone
    assert SentenceChunker().feed("It cost £42.50 twice") == []              # a decimal point is not a sentence end


# ------------------------------------------------------------------ the turn loop with fakes
def test_voice_turn_streams_reply_in_chunks_and_stores_timings(app, tmp_path):
    stt = FakeSTT(["Thank you for calling Brightwave, I'm Sam. Um, how can I help?"])
    tts = FakeTTS()
    vp = VoicePractice(app, stt=stt, tts=tts, config=VoiceConfig(keep_audio=True))
    session = vp.start_call("Sam", "double-billed-dana", actor=SYSTEM)
    events = list(vp.turn(session.id, *mic(), actor=SYSTEM))
    kinds = [e.kind for e in events]
    assert kinds[0] == "agent_text" and kinds[-1] == "customer_text" and kinds.count("customer_audio") >= 2, kinds
    assert events[0].text.startswith("Thank you for calling Brightwave")
    final = events[-1]
    spoken = " ".join(e.text for e in events if e.kind == "customer_audio")
    assert re.sub(r"\W", "", spoken) == re.sub(r"\W", "", final.text)          # every word of the line was voiced, once
    assert [t for t, _ in tts.calls] == [e.text for e in events if e.kind == "customer_audio"]
    settings = tts.calls[0][1]
    assert settings.speed == pytest.approx(1.1) and settings.variation == pytest.approx(0.75)   # Dana's persona voice
    t = final.timings
    assert t["voice_to_voice_s"] >= t["stt_s"] >= 0 and t["spoken_matches_text"] is True
    # both turns are in the ordinary transcript and in the voice table, with audio files
    turns = app.store.turns(session.id)
    assert [x.speaker for x in turns] == ["agent", "customer"] and turns[1].text == final.text
    segs = VoiceStore(app.store).segments(session.id)
    assert [(s.speaker, s.turn_idx) for s in segs] == [("agent", 0), ("customer", 1)]
    assert all(Path(s.audio_path).is_file() for s in segs)
    assert segs[1].start_s >= segs[0].end_s                     # the customer answered after the agent stopped
    with pytest.raises(FakeExhausted):                          # a second turn needs a second scripted transcript
        list(vp.turn(session.id, *mic(), actor=SYSTEM))


def test_voice_call_grades_with_speech_metrics_and_mixes_audio(app):
    stt = FakeSTT(["Hi, this is Sam at Brightwave. Can I take your account number?", "Thanks Dana, I'm sorry about that. Bye for now."])
    vp = VoicePractice(app, stt=stt, tts=FakeTTS(), vad=energy_spans)
    session = vp.start_call("Sam", "double-billed-dana", actor=SYSTEM)
    for _ in range(2):
        list(vp.turn(session.id, *mic(), actor=SYSTEM))
    card = vp.end_call(session.id, actor=SYSTEM)
    assert card.speech is not None and card.speech["agent_words"] > 5
    delivery = [c for c in card.criteria if c.dimension == "delivery"]
    assert len(delivery) == 6 and all(c.verdict != "n/a" for c in delivery if c.id != "prompt_responses")
    assert card.dimension("delivery").score is not None
    audio = vp.call_audio(session.id)
    with wave.open(audio) as w:                                 # stereo replay: agent left, customer right
        assert w.getnchannels() == 2 and w.getframerate() == STT_RATE and w.getnframes() > STT_RATE * 2


def test_typed_call_has_delivery_not_applicable(app):
    session = app.start_call("Sam", "double-billed-dana", user=SYSTEM)
    app.say(session.id, "Hello, Brightwave, Sam speaking.", actor=SYSTEM)
    card = app.end_call(session.id, SYSTEM)
    assert card.speech is None
    assert {c.verdict for c in card.criteria if c.dimension == "delivery"} == {"n/a"}
    assert card.dimension("delivery").score is None


def test_silence_is_not_sent_to_the_customer(app):
    vp = VoicePractice(app, stt=FakeSTT([""]), tts=FakeTTS())
    session = vp.start_call("Sam", "double-billed-dana", actor=SYSTEM)
    events = list(vp.turn(session.id, *mic(), actor=SYSTEM))
    assert [e.kind for e in events] == ["error"] and "didn't catch" in events[0].text
    assert app.store.turns(session.id) == []


def test_model_down_keeps_the_agent_turn_and_says_so(store, catalog):
    llm = FakeLLM([down(), down(), down()])
    app = Frontline(store=store, catalog=catalog, customer_backend=llm, sleep=lambda s: None)
    tts = FakeTTS()
    vp = VoicePractice(app, stt=FakeSTT(["Hello, Sam at Brightwave."]), tts=tts, vad=no_spans)
    session = vp.start_call("Sam", "double-billed-dana", actor=SYSTEM)
    events = list(vp.turn(session.id, *mic(), actor=SYSTEM))
    assert events[-1].kind == "error" and "Retry" in events[-1].text
    assert tts.calls == [] and [t.speaker for t in store.turns(session.id)] == ["agent"]
    events = list(vp.turn(session.id, *mic(), actor=SYSTEM))   # talking again before retrying is refused clearly
    assert events[0].kind == "error" and "Retry reply" in events[0].text
    llm.replies.append("I was charged twice this month.")       # the model is back
    events = list(vp.retry(session.id, actor=SYSTEM))
    assert events[-1].kind == "customer_text" and events[-1].text == "I was charged twice this month."
    assert [t.speaker for t in store.turns(session.id)] == ["agent", "customer"]
    assert [(g.speaker, g.turn_idx) for g in VoiceStore(store).segments(session.id)] == [("agent", 0), ("customer", 1)]
    assert list(vp.retry(session.id, actor=SYSTEM))[0].text == "There is no reply to retry."


def test_guard_rejected_chunk_is_never_voiced(store, catalog, dana):
    # first attempt invents an account number in its second sentence; the guard rejects the line and it is regenerated
    llm = FakeLLM(["I'm calling about my bill. My account is 99-9999 by the way.", "I'm calling about my bill. I was charged twice."])
    app = Frontline(store=store, catalog=catalog, customer_backend=llm, sleep=lambda s: None)
    tts = FakeTTS()
    loop = VoiceTurnLoop(stt=FakeSTT(["Hello, Brightwave, Sam speaking."]), tts=tts, session_for=lambda cid: app.session(cid, SYSTEM), spans=no_spans)
    session = app.start_call("Sam", "double-billed-dana", user=SYSTEM)
    events = list(loop.turn(session.id, to_stt(*mic())))
    said = [t for t, _ in tts.calls]
    assert not any("99-9999" in s for s in said)
    assert events[-1].text == "I'm calling about my bill. I was charged twice."
    assert " ".join(said) == events[-1].text                    # the already-voiced sentence is not said twice


def test_fake_tts_and_stt_fail_loudly():
    with pytest.raises(AssertionError):
        FakeTTS().synthesize("  ")
    with pytest.raises(AssertionError):
        FakeSTT(["x"]).transcribe(np.zeros(100, dtype=np.int16))


# ------------------------------------------------------------------ metrics
def test_metrics_on_constructed_timings():
    utts = [
        Utterance("agent", 0.0, 4.0, "Hello, thanks for calling, um, this is Sam, how can I help you today?", turn=1),
        Utterance("customer", 4.5, 10.0, "I was billed twice this month and I want it fixed.", turn=2),
        Utterance("agent", 9.0, 12.0, "Uh, sorry, let me, uh, check that for you.", turn=3),        # starts 1 s before she finished
        Utterance("customer", 16.5, 18.0, "Hello? Are you there?", turn=4),                        # 4.5 s dead air before it
        Utterance("agent", 19.0, 22.0, "Yes, I can see both charges, I'll refund one today.", turn=5),
    ]
    m = compute(utts, source="recording")
    assert m.agent_talk_s == pytest.approx(10.0) and m.customer_talk_s == pytest.approx(7.0)
    assert m.talk_ratio == pytest.approx(10 / 17, abs=1e-3)
    assert m.agent_words == 14 + 9 + 10
    assert m.words_per_minute == pytest.approx(33 / (10 / 60), rel=1e-3)
    assert m.filler_count == 3 and m.fillers == {"um": 1, "uh": 2}
    assert [d["seconds"] for d in m.dead_air] == [4.5] and m.dead_air[0]["before_turn"] == 4
    assert len(m.talk_over) == 1 and m.talk_over[0]["turn"] == 3 and m.talk_over[0]["seconds"] == pytest.approx(1.0)
    assert m.response_latencies_s == [1.0] and m.response_latency_median_s == 1.0   # the talk-over is not a latency
    # in a practice call, waiting for the simulated customer is the simulator's latency, not dead air
    assert compute(utts, source="practice").dead_air == []
    md = markdown(m.to_dict())
    assert "Speech metrics" in md and "Dead air" in md and "um ×1" in md


def test_fillers_and_empty_call():
    assert fillers_in("Um, so, like, you know, I mean it's basically fine. I like it.") == ["um", "like", "you know", "i mean", "basically"]
    m = compute([])
    assert m.talk_ratio is None and m.words_per_minute is None and m.dead_air == []


def test_speech_criteria_levels(catalog):
    from trainer.actor import Turn
    from trainer.grader import Grader
    turns = [Turn("agent", "Hello, Sam speaking."), Turn("customer", "Hi."), Turn("agent", "How can I help?")]
    grader = Grader(catalog.rubrics["default"])
    good = compute([Utterance("agent", 0, 3, " ".join(["word"] * 7), turn=1), Utterance("customer", 3.5, 5, "Hi.", turn=2),
                    Utterance("agent", 5.5, 7, "how can I help", turn=3)]).to_dict()
    bad = dict(good, words_per_minute=230.0, dead_air=[{"start": 1, "seconds": 5, "before_turn": 3}, {"start": 9, "seconds": 4, "before_turn": 3}],
               fillers_per_minute=9.0, talk_ratio=0.9, talk_over=[{"start": 1, "seconds": 1, "turn": 3}] * 2,
               response_latency_median_s=5.0, response_latency_max_s=8.0)
    by_id = lambda card: {c.id: c.verdict for c in card.criteria if c.dimension == "delivery"}  # noqa: E731
    assert set(by_id(grader.grade(turns, speech=bad)).values()) == {"not_met"}
    g = by_id(grader.grade(turns, speech=good))
    assert g["no_dead_air"] == g["no_talking_over"] == g["prompt_responses"] == g["few_fillers"] == "met"
    assert set(by_id(grader.grade(turns)).values()) == {"n/a"}


# ------------------------------------------------------------------ recordings
AGENT = [(0.3, 2.5, "Thank you for calling Brightwave, this is Sam."), (6.0, 9.0, "I'm sorry about that, I'll refund the duplicate today.")]
CUSTOMER = [(3.0, 5.5, "Hi, I was charged twice this month."), (9.5, 11.0, "Great, thank you.")]


def write_stereo(path: Path, left_spans, right_spans, seconds: float = 12.0, rate: int = 8000) -> Path:
    """Tone bursts where each side speaks (the fake STT supplies the words)."""
    n = int(seconds * rate)
    data = np.zeros((n, 2), dtype=np.float32)
    t = np.arange(n) / rate
    for ch, spans in ((0, left_spans), (1, right_spans)):
        for a, b, _ in spans:
            m = (t >= a) & (t < b)
            data[m, ch] = 0.4 * np.sin(2 * np.pi * (180 + 60 * ch) * t[m])
    path.write_bytes(wav_bytes(data, rate))
    return path


def test_stereo_recording_is_graded_and_stored_against_the_trainee(app, tmp_path):
    f = write_stereo(tmp_path / "call.wav", AGENT, CUSTOMER)
    stt = FakeSTT([transcript(*AGENT), transcript(*CUSTOMER)])
    vp = VoicePractice(app, stt=stt, tts=FakeTTS(), vad=energy_spans)
    got = vp.import_recording(f, trainee="Riley Chen", actor=SYSTEM)
    assert got.layout == "stereo" and [s for s, _ in got.turns] == ["agent", "customer", "agent", "customer"]
    assert got.turns[1][1] == "Hi, I was charged twice this month."
    assert stt.calls[0]["word_timestamps"] and abs(stt.calls[0]["samples"] - 12 * STT_RATE) < 200   # resampled 8 kHz → 16 kHz
    card = got.scorecard
    assert card.speech["source"] == "recording" and card.speech["response_latency_median_s"] == pytest.approx(0.5)
    assert card.dimension("delivery").score is not None
    calls = app.calls_of("Riley Chen", SYSTEM)
    assert [c.id for c in calls] == [got.call_id] and calls[0].end_reason == "recording"
    assert app.view(got.call_id, SYSTEM).scorecard.overall == card.overall
    assert Path(vp.call_audio(got.call_id)).is_file()


def test_agent_on_the_right_channel(app, tmp_path):
    f = write_stereo(tmp_path / "call.wav", CUSTOMER, AGENT)
    stt = FakeSTT([transcript(*AGENT), transcript(*CUSTOMER)])    # the agent's channel is transcribed first
    got = VoicePractice(app, stt=stt, tts=FakeTTS(), vad=energy_spans).import_recording(f, trainee="Riley", agent_channel="right", actor=SYSTEM)
    assert got.turns[0] == ("agent", AGENT[0][2])


def test_mono_recording_falls_back_to_a_pause_split(app, tmp_path):
    data = np.zeros(12 * 8000, dtype=np.float32)
    data[: 8000 * 2] = 0.3
    f = tmp_path / "mono.wav"
    f.write_bytes(wav_bytes(data, 8000))
    stt = FakeSTT([transcript(*sorted(AGENT + CUSTOMER))])
    got = VoicePractice(app, stt=stt, tts=FakeTTS(), vad=energy_spans).import_recording(f, trainee="Riley", scenario_id="double-billed-dana", actor=SYSTEM)
    assert got.layout == "mono" and [s for s, _ in got.turns] == ["agent", "customer", "agent", "customer"]
    assert any("mono recording" in x for x in got.scorecard.flags)
    assert app.store.get_call(got.call_id).persona_id == "double-billed-dana"


def test_identical_channels_are_treated_as_mono(app, tmp_path):
    mono = np.zeros(8000 * 4, dtype=np.float32)
    mono[4000:12000] = 0.3
    f = tmp_path / "dup.wav"
    f.write_bytes(wav_bytes(np.stack([mono, mono], axis=1), 8000))
    stt = FakeSTT([transcript((0.5, 1.5, "Hello there."), (2.5, 3.5, "Hi."))])
    got = VoicePractice(app, stt=stt, tts=FakeTTS(), vad=energy_spans).import_recording(f, trainee="Riley", actor=SYSTEM)
    assert got.layout == "mono" and len(stt.calls) == 1 and any("same audio" in x for x in got.notes)


def test_mp3_recording_decodes_with_pyav(app, tmp_path):
    import av
    f = tmp_path / "call.mp3"
    rate = 16000
    t = np.arange(rate * 12) / rate
    left = (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    right = (0.3 * np.sin(2 * np.pi * 300 * t) * (t > 3)).astype(np.float32)
    with av.open(str(f), "w") as out:
        st = out.add_stream("mp3", rate=rate, layout="stereo")
        frame_len = 1152
        for i in range(0, len(t) - frame_len, frame_len):
            fr = av.AudioFrame.from_ndarray(np.stack([left[i:i + frame_len], right[i:i + frame_len]]), format="fltp", layout="stereo")
            fr.sample_rate = rate
            for pkt in st.encode(fr):
                out.mux(pkt)
        for pkt in st.encode(None):
            out.mux(pkt)
    stt = FakeSTT([transcript(*AGENT), transcript(*CUSTOMER)])
    got = VoicePractice(app, stt=stt, tts=FakeTTS(), vad=energy_spans).import_recording(f, trainee="Riley", actor=SYSTEM)
    assert got.layout == "stereo" and len(got.turns) == 4


def test_recording_errors_name_the_fix(app, tmp_path):
    vp = VoicePractice(app, stt=FakeSTT([]), tts=FakeTTS())
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    with pytest.raises(ValueError, match="WAV or MP3"):
        vp.import_recording(bad, trainee="Riley", actor=SYSTEM)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(ValueError, match="Fix: upload a WAV or MP3"):
        vp.import_recording(broken, trainee="Riley", actor=SYSTEM)
    with pytest.raises(ValueError, match="trainee"):
        vp.import_recording(write_stereo(tmp_path / "c.wav", AGENT, CUSTOMER), trainee=" ", actor=SYSTEM)
    mono = tmp_path / "m.wav"
    mono.write_bytes(wav_bytes(np.zeros(8000, dtype=np.float32), 8000))
    with pytest.raises(ValueError, match="choose mono"):
        vp.import_recording(mono, trainee="Riley", layout="stereo", actor=SYSTEM)


def test_split_mono_and_turn_merging():
    t = transcript((0.0, 1.0, "Hello Brightwave."), (1.2, 2.0, "Sam speaking."), (3.0, 4.0, "Hi Sam."))
    utts = split_mono(t)
    assert [u.speaker for u in utts] == ["agent", "customer"]          # the 0.2 s pause does not change speaker; the 1 s one does
    merged = to_turns([Utterance("agent", 0, 1, "a"), Utterance("agent", 1.5, 2, "b"), Utterance("customer", 3, 4, "c")])
    assert [(s, x) for s, x, _ in merged] == [("agent", "a b"), ("customer", "c")]


# ------------------------------------------------------------------ persona voice field and settings
def test_persona_voice_field_is_validated():
    data = yaml.safe_load((ROOT / "personas" / "double-billed-dana.yaml").read_text())
    data["voice"] = {"speed": 0.9, "variation": 0.3, "model_path": "voices/other.onnx"}
    assert Persona.model_validate(data).voice.model_path == "voices/other.onnx"
    for bad, field in (({"speed": 3}, "speed"), ({"variation": -1}, "variation"), ({"model_path": "voice.wav"}, "model_path"),
                       ({"model_path": "/nowhere/v.onnx"}, "model_path"), ({"pitch": 2}, "pitch")):
        data["voice"] = bad
        with pytest.raises(ValidationError) as e:
            Persona.model_validate(data)
        assert e.value.errors()[0]["loc"] == ("voice", field)


def test_voice_config_from_env():
    c = VoiceConfig.from_env({"FRONTLINE_VAD_SILENCE_MS": "400", "FRONTLINE_KEEP_AUDIO": "0"})
    assert c.vad_silence_ms == 400 and c.keep_audio is False and c.whisper_model == "tiny.en"
    with pytest.raises(ValueError, match="between 100 and 5000"):
        VoiceConfig.from_env({"FRONTLINE_VAD_SILENCE_MS": "20"})
    with pytest.raises(ValueError, match="whole number"):
        VoiceConfig.from_env({"FRONTLINE_VAD_SILENCE_MS": "fast"})


def test_missing_whisper_folder_is_a_clear_error(tmp_path):
    from trainer.embedded import ModelError
    from trainer.voice.models import whisper_model
    with pytest.raises(ModelError, match="Fix: use 'tiny.en'"):
        whisper_model(str(tmp_path / "nope"))


def test_end_of_turn_detector_with_scripted_vad():
    from trainer.voice.stt import EndOfTurn
    speech = (0.5, 2.0)

    def spans(audio, **kw):            # speech from 0.5 s to 2.0 s of the stream, seen through the window
        return [speech] if len(audio) / STT_RATE > speech[0] else []
    eot = EndOfTurn(silence_ms=500, window_s=100, spans=spans)
    chunk = np.zeros(STT_RATE // 10, dtype=np.float32)
    fired = None
    for i in range(40):
        fired = eot.feed(chunk)
        if fired:
            break
    assert fired is not None and fired.detected_at == pytest.approx(2.5) and fired.speech_end == 2.0
    assert len(fired.audio) == int(2.5 * STT_RATE) and eot.received_s == 0     # reset for the next turn


def test_turn_cue_reads_the_words_before_a_pause():
    from trainer.voice.stt import turn_cue
    assert turn_cue("Could I take your account number, please?") == "yield"
    assert turn_cue("So I've checked the account and") == "hold"
    assert turn_cue("Let me just, um,") == "hold"
    assert turn_cue("Let me just check that -") == "hold"
    assert turn_cue("Have a lovely day, goodbye,") is None            # whisper ends many finished phrases with a comma
    assert turn_cue("And which card you paid with.") is None          # a preposition can end a finished sentence
    assert turn_cue("I'll just check that with") == "hold"
    assert turn_cue("I've checked the account and.") == "hold"
    assert turn_cue("I can see the two charges, uh") == "hold"
    assert turn_cue("I can see the two charges.") is None
    assert turn_cue("Thanks for calling Brightwave, my name is Sam") is None
    assert turn_cue("") is None


def _pause_then_silence(cue_text, *, silence_ms=500):
    """Speech 0.5–2.0 s, then silence; at the first pause the phrase's words are `cue_text`. Returns the turn end."""
    from trainer.voice.stt import EndOfTurn
    eot = EndOfTurn(silence_ms=silence_ms, question_ms=300, window_s=100, spans=lambda audio, **kw: [(0.5, 2.0)] if len(audio) / STT_RATE > 0.5 else [])
    chunk = np.zeros(STT_RATE // 10, dtype=np.float32)
    for _ in range(60):
        fired = eot.feed(chunk)
        if fired:
            return fired
        if eot.new_pause is not None and cue_text is not None:
            eot.heard(cue_text)
    return None


def test_a_question_ends_the_turn_sooner_and_a_trailing_and_holds_it():
    plain = _pause_then_silence("I can see the two charges.")
    question = _pause_then_silence("Could I take your account number, please?")
    held = _pause_then_silence("So I've checked the account and")
    assert plain.detected_at == pytest.approx(2.5) and plain.cue is None
    assert question.detected_at == pytest.approx(2.3) and question.cue == "question"
    assert held.detected_at == pytest.approx(3.2) and held.cue == "hold"


def test_a_cue_is_forgotten_when_the_trainee_speaks_again():
    from trainer.voice.stt import EndOfTurn
    state = {"spans": [(0.5, 2.0)]}
    eot = EndOfTurn(silence_ms=500, question_ms=300, window_s=100, spans=lambda audio, **kw: list(state["spans"]))
    chunk = np.zeros(STT_RATE // 10, dtype=np.float32)
    fired = None
    for i in range(60):
        if eot.received_s >= 2.2 and len(state["spans"]) == 1:       # "…is that right?", and the next chunk has more words
            state["spans"] = [(0.5, 2.0), (2.25, 3.0)]
        fired = eot.feed(chunk)
        if fired:
            break
        if eot.new_pause is not None and eot.last_speech_end == 2.0:
            assert eot.heard("Is that right?") == "yield"
    assert fired is not None and fired.cue is None and fired.speech_end == 3.0
    assert fired.detected_at == pytest.approx(3.5)                   # the full silence after the new speech


def test_vad_timing_settings_from_the_environment_are_checked():
    from trainer.voice.service import VoiceConfig
    c = VoiceConfig.from_env({"FRONTLINE_VAD_QUESTION_MS": "250", "FRONTLINE_VAD_HOLD_MS": "1500"})
    assert c.question_ms == 250 and c.hold_ms == 1500 and c.vad_silence_ms == 500
    with pytest.raises(ValueError, match="FRONTLINE_VAD_HOLD_MS must be a whole number"):
        VoiceConfig.from_env({"FRONTLINE_VAD_HOLD_MS": "long"})


def test_cli_grade_recording_rejects_a_non_audio_file(tmp_path, capsys):
    from trainer.cli import main
    bad = tmp_path / "call.txt"
    bad.write_text("Agent: hello")
    assert main(["grade-recording", str(bad), "--trainee", "Riley"]) == 1
    assert "Fix: upload a WAV or MP3" in capsys.readouterr().err


def test_channel_segments_are_recut_at_pauses_and_words_in_silence_dropped():
    from trainer.voice.recording import _utterances
    from trainer.voice.stt import Segment, Transcript, Word
    words = [Word(0.3, 0.6, "Thank"), Word(0.6, 0.9, "you"), Word(0.9, 1.4, "for calling."),
             Word(6.0, 6.4, "I'm"), Word(6.4, 7.0, "sorry."), Word(11.0, 11.5, "Thank you.")]
    t = Transcript(text="", segments=[Segment(0.3, 11.5, "Thank you for calling. I'm sorry. Thank you.", words)], duration=12)
    utts = _utterances(t, "agent", spans=[(0.3, 1.4), (6.0, 7.0)])
    assert [(u.start, u.end, u.text) for u in utts] == [(0.3, 1.4, "Thank you for calling."), (6.0, 7.0, "I'm sorry.")]


def test_prefills_are_prefixes_of_the_real_prompts(store, catalog, dana):
    """The header at call start, what was said up to a pause (with the direction it would get), and the call so far
    after each reply are all read into the cache ahead; each must be a prefix of the prompt the next reply is
    generated from, or it would be wasted."""
    llm = FakeLLM(responder=in_character_responder(dana), name="local:fake", supports_prefill=True)
    app = Frontline(store=store, catalog=catalog, customer_backend=llm, sleep=lambda s: None)
    vp = VoicePractice(app, stt=FakeSTT(["Hello, Brightwave, Sam speaking.", "Could I take your account number?"]),
                       tts=FakeTTS(), vad=no_spans)
    session = vp.start_call("Sam", "double-billed-dana", actor=SYSTEM)  # prefills the header in the background
    session.warmed(5)
    assert vp.prefill(session.id, agent_text="Hello, Brightwave, Sam speaking.", wait=True)   # the words up to the last pause
    assert session.director.state.turn == 0                      # worked out on a copy of the director
    list(vp.turn(session.id, *mic(), actor=SYSTEM))
    session.warmed(5)                                            # after the reply: the call so far
    list(vp.turn(session.id, *mic(), actor=SYSTEM))
    session.warmed(5)
    header, partial, after_reply_1, after_reply_2 = llm.prefills
    first, second = [c["prompt"] for c in llm.calls]
    assert header.endswith("TRANSCRIPT\n") and first.startswith(header)
    assert partial == first                                      # the same words: the same direction, the whole prompt ready
    cust1 = session.transcript[1].text
    assert after_reply_1.endswith(f"DANA: {cust1}\n") and second.startswith(after_reply_1)
    assert after_reply_2.endswith(f"DANA: {session.transcript[3].text}\n")
    typed = Frontline(store=store, catalog=catalog, customer_backend=FakeLLM(["x"]))   # a remote/fake model: nothing to prefill
    assert VoicePractice(typed, stt=FakeSTT([]), tts=FakeTTS()).prefill(typed.start_call("Sam", "double-billed-dana", user=SYSTEM).id) is False


def test_persona_voice_settings_resolve_relative_paths(dana, tmp_path):
    from trainer.voice.tts import VoiceSettings
    p = dana.model_copy(update={"voice": dana.voice.model_copy(update={"model_path": "voices/x.onnx"})})
    s = VoiceSettings.for_persona(p, tmp_path)
    assert s.model_path == str(tmp_path / "voices" / "x.onnx") and s.speed == pytest.approx(1.1)
    assert VoiceSettings.for_persona(dana.model_copy(update={"voice": None})) == VoiceSettings()


def test_live_short_window_transcript_is_replaced_by_a_full_window_one_for_grading(app):
    """The live transcript comes from whisper's fast short-window pass; while the trainee listens, the turn is
    transcribed again with the full window, and the stored text (what the grader reads) is the better one."""
    from trainer.voice.stt import Transcript

    class TwoPassSTT:
        name, short_window = "two-pass", True

        def __init__(self):
            self.passes: list[bool] = []

        def transcribe(self, audio, *, word_timestamps=False, full_window=False):
            self.passes.append(full_window)
            text = "Hello, Brightwave Telecom, Sam speaking." if full_window else "Hello, Bright with, Sam speaking."
            return Transcript(text=text, segments=[], duration=len(audio) / STT_RATE)
    stt = TwoPassSTT()
    vp = VoicePractice(app, stt=stt, tts=FakeTTS(), vad=no_spans)
    session = vp.start_call("Sam", "double-billed-dana", actor=SYSTEM)
    events = list(vp.turn(session.id, *mic(), actor=SYSTEM))
    assert next(e.text for e in events if e.kind == "agent_text") == "Hello, Bright with, Sam speaking."   # heard live
    vp.end_call(session.id, actor=SYSTEM)                     # waits for the second pass before grading
    agent = app.store.turns(session.id)[0]
    import json
    assert stt.passes == [False, True] and agent.text == "Hello, Brightwave Telecom, Sam speaking."
    assert json.loads(agent.meta_json)["live_text"] == "Hello, Bright with, Sam speaking."
    card = app.view(session.id, SYSTEM).scorecard
    assert card is not None and "Bright with" not in json.dumps(card.model_dump() if hasattr(card, "model_dump") else str(card))


def test_a_pause_after_the_call_ended_does_not_break_the_microphone_stream(app):
    """Hands-free keeps streaming until the trainee presses Stop; a pause heard after End call must not raise."""
    vp = VoicePractice(app, stt=FakeSTT(["Thanks, goodbye."]), tts=FakeTTS(), vad=no_spans)
    session = vp.start_call("Sam", "double-billed-dana", actor=SYSTEM)
    vp.end_call(session.id, actor=SYSTEM)
    assert vp.prefill(session.id, agent_text="Thanks, goodbye.") is False


def test_background_work_waits_for_foreground_work():
    """Whisper and llama.cpp side by side on 2 cores slow each other several times over: a background job (prefill,
    re-transcription) starts only once the foreground (a reply, a live phrase) is done, and one at a time."""
    import threading
    import time
    from trainer.compute import FOREGROUND, background
    order, release = [], threading.Event()

    def foreground():
        with FOREGROUND:
            order.append("reply starts")
            release.wait(5)
            order.append("reply done")

    def job(name):
        with background():
            order.append(name)
    fg = threading.Thread(target=foreground)
    fg.start()
    while not FOREGROUND.busy:
        time.sleep(0.001)
    jobs = [threading.Thread(target=job, args=(f"job {i}",)) for i in range(2)]
    for j in jobs:
        j.start()
    time.sleep(0.1)
    release.set()
    for t in [fg, *jobs]:
        t.join(5)
    assert order[:2] == ["reply starts", "reply done"] and sorted(order[2:]) == ["job 0", "job 1"]


def test_a_prefill_never_holds_up_a_reply():
    """Seen in the browser: a trainee who kept talking while the customer answered started a prefill at every pause,
    and the reply waited behind them. A prefill now stops when a generation waits, and skips a busy model."""
    from trainer.llm.local import LocalBackend
    backend = LocalBackend(Path("/nonexistent.gguf"))

    class Model:                          # just what prefill touches
        def __init__(self):
            self._input_ids, self.n_tokens, self.evals = np.array([], dtype=int), 0, []

        def tokenize(self, data, special=True, add_bos=False):
            return list(range(200))

        def eval(self, tokens):
            self.evals.append(len(tokens))
            if len(self.evals) == 2:
                backend.waiting = 1       # a reply starts waiting for the model after the second chunk
    backend._llm = Model()
    assert backend.prefill("the call so far") == 64 and backend._llm.evals == [32, 32]
    backend._llm = Model()
    backend.waiting = 1                   # paused for foreground work (a phrase being transcribed) when a reply comes:
    assert backend.prefill("the call so far", wait_while=lambda: True) == 0      # it gives way instead of waiting on
    backend.waiting = 0
    backend.lock.acquire()                # a reply is being generated
    try:
        assert backend.prefill("the call so far", skip_if_busy=True) == 0
    finally:
        backend.lock.release()


def test_one_background_prefill_at_a_time_per_call(store, catalog, dana):
    import threading
    gate = threading.Event()

    class SlowPrefill(FakeLLM):
        def prefill(self, prompt, **kw):
            gate.wait(5)
            return super().prefill(prompt, **kw)
    llm = SlowPrefill(responder=in_character_responder(dana), name="local:fake", supports_prefill=True)
    app = Frontline(store=store, catalog=catalog, customer_backend=llm, sleep=lambda s: None)
    session = app.start_call("Sam", "double-billed-dana", user=SYSTEM)
    assert session.warm() is True
    assert session.warm(agent_text="Hello,") is False and session.warm(agent_text="Hello, Sam") is False
    gate.set()
    session.warmed(5)
    assert len(llm.prefills) == 1 and session.warm(agent_text="Hello,") is True
    session.warmed(5)
