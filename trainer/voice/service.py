"""Voice practice and recording upload as plain functions over Frontline, for the web UI and the CLI."""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ..accounts import SYSTEM
from ..call import CallSession
from ..config import env_flag
from ..grader import Scorecard
from .audio import STT_RATE, to_stt, write_wav
from .loop import VoiceEvent, VoiceTurnLoop, wait_for_refined, wait_for_replies
from .store import VoiceStore
from .stt import EndOfTurn, PhraseTranscriber, ends_sentence, SpeechToText, Transcript, WhisperSTT
from .tts import PiperTTS, TextToSpeech

log = logging.getLogger(__name__)

STREAM_EVERY_S = 0.1       # the browser microphone is streamed to the server in chunks this long (hands-free)


@dataclass(frozen=True)
class VoiceConfig:
    """Voice settings, each an environment variable (see README, Voice)."""

    whisper_model: str = "tiny.en"       # FRONTLINE_WHISPER_MODEL: tiny.en (embedded) or a CTranslate2 folder
    vad_silence_ms: int = 500            # FRONTLINE_VAD_SILENCE_MS: silence that ends the trainee's turn (hands-free)
    question_ms: int = 450               # FRONTLINE_VAD_QUESTION_MS: ... after a phrase that ends in a question
    hold_ms: int = 1200                  # FRONTLINE_VAD_HOLD_MS: ... after a phrase that trails off ("and", "um,")
    keep_audio: bool = True              # FRONTLINE_KEEP_AUDIO: keep call audio for replay (0 to switch off)
    split_first_clause: bool = True      # FRONTLINE_VOICE_FIRST_CLAUSE: voice the first clause before the sentence ends
    speculative_prefill: bool = True     # FRONTLINE_VOICE_SPECULATIVE: evaluate the reply prompt at the trainee's pauses
    whisper_short_window: bool = True    # FRONTLINE_WHISPER_SHORT_WINDOW: fast live phrase STT; turns re-transcribed in full after

    @classmethod
    def from_env(cls, env=None) -> "VoiceConfig":
        e = os.environ if env is None else env
        d = cls()

        def flag(name: str, default: bool) -> bool:
            return env_flag(name, default, e)

        def ms(name: str, default: int, lo: int, hi: int) -> int:
            try:
                v = int(e.get(name, default))
            except ValueError:
                raise ValueError(f"{name} must be a whole number of milliseconds, e.g. {default}") from None
            if not lo <= v <= hi:
                raise ValueError(f"{name}={v}: use a value between {lo} and {hi} ({default} is the default)")
            return v
        silence = ms("FRONTLINE_VAD_SILENCE_MS", d.vad_silence_ms, 100, 5000)
        return cls(whisper_model=e.get("FRONTLINE_WHISPER_MODEL", d.whisper_model), vad_silence_ms=silence,
                   question_ms=ms("FRONTLINE_VAD_QUESTION_MS", d.question_ms, 100, 5000),
                   hold_ms=ms("FRONTLINE_VAD_HOLD_MS", d.hold_ms, 100, 10000),
                   keep_audio=flag("FRONTLINE_KEEP_AUDIO", d.keep_audio),
                   split_first_clause=flag("FRONTLINE_VOICE_FIRST_CLAUSE", d.split_first_clause),
                   speculative_prefill=flag("FRONTLINE_VOICE_SPECULATIVE", d.speculative_prefill),
                   whisper_short_window=flag("FRONTLINE_WHISPER_SHORT_WINDOW", d.whisper_short_window))


class VoicePractice:
    def __init__(self, app, *, stt: SpeechToText | None = None, tts: TextToSpeech | None = None,
                 config: VoiceConfig | None = None, end_of_turn: Callable[[], EndOfTurn] | None = None,
                 vad: Callable[[np.ndarray], list[tuple[float, float]]] | None = None):
        self.app = app
        self.vad = vad                      # where speech is in a clip (default: the Silero VAD in faster-whisper)
        self._eot_factory = end_of_turn
        self.config = config or VoiceConfig.from_env()
        self._stt = stt
        self._tts = tts
        self._needs_warm_up = stt is None or tts is None      # the real models: load them when a voice call starts
        self.voice_store = VoiceStore(app.store)
        self.audio_root = Path(app.settings.home) / "audio"

    # models are loaded on first use, so the app starts without them
    @property
    def stt(self) -> SpeechToText:
        if self._stt is None:
            self._stt = WhisperSTT(self.config.whisper_model, short_window=self.config.whisper_short_window)
        return self._stt

    @property
    def tts(self) -> TextToSpeech:
        if self._tts is None:
            self._tts = PiperTTS()
        return self._tts

    def warm_up(self) -> None:
        """Load whisper and piper and run each once, so the first real turn is not the slow one."""
        self._needs_warm_up = False
        self.stt.transcribe(np.zeros(STT_RATE, dtype=np.float32))
        self.tts.synthesize("Hello.")

    def loop(self) -> VoiceTurnLoop:
        return VoiceTurnLoop(stt=self.stt, tts=self.tts, session_for=lambda cid: self.app.session(cid, SYSTEM), voice_store=self.voice_store,
                             audio_dir=self.audio_root if self.config.keep_audio else None,
                             split_first_clause=self.config.split_first_clause, content_dir=Path(self.app.settings.content_dir),
                             **({"spans": self.vad} if self.vad else {}))

    def start_call(self, trainee: str | None, scenario_id: str, *, actor) -> CallSession:
        """actor: the signed-in user in the web app (the call is theirs); accounts.SYSTEM for the CLI and tests, which
        name a trainee."""
        from ..accounts import is_system
        session = self.app.start_call(trainee if is_system(actor) else None, scenario_id, user=actor)
        self._check_persona_voice(session)
        self.voice_store.start(session.id, source="practice", clock0=time.time())
        self.prefill(session.id)          # in the background: the trainee reads the brief meanwhile
        if self._needs_warm_up:
            self._needs_warm_up = False
            threading.Thread(target=self.warm_up, daemon=True, name="voice-warm-up").start()
        return session

    def prefill(self, call_id: str, *, agent_text: str | None = None, with_direction: bool = True, wait: bool = False) -> bool:
        """Evaluate the customer prompt ahead of time so the reply only evaluates what is new (llama.cpp reuses the
        cached prefix). At call start: the fixed header, while the trainee reads the brief. During a hands-free
        turn (FRONTLINE_VOICE_SPECULATIVE): the call so far plus what the trainee has said up to their latest pause,
        while the end-of-turn silence runs. After each reply the call itself does it (CallSession.warm)."""
        try:
            session = self.app.session(call_id, SYSTEM)   # internal: the request that asked for it was authorised
        except Exception as exc:  # noqa: BLE001 - e.g. the call was ended while the microphone still streams: no head start
            log.debug("no prefill for %s: %s", call_id, exc)
            return False
        return session.warm(agent_text=agent_text, with_direction=with_direction, wait=wait)

    def _check_persona_voice(self, session: CallSession) -> None:
        v = session.persona.voice
        if v is not None and v.model_path and not Path(v.model_path).is_absolute():
            path = Path(self.app.settings.content_dir) / v.model_path
            if not path.is_file():
                raise FileNotFoundError(f"persona {session.persona.id}: voice.model_path {v.model_path} not found under "
                                        f"{self.app.settings.content_dir}. Fix: put the .onnx (and .onnx.json) there, or remove model_path")

    def turn(self, call_id: str, sample_rate: int, data: np.ndarray, *, eot_s: float = 0.0,
             arrived_at: float | None = None, actor) -> Iterator[VoiceEvent]:
        """A push-to-talk (or end-of-turn-detected) utterance from the browser → the customer's spoken reply."""
        self.app.authorize_call(actor, call_id, write=True)
        vc = self.voice_store.call(call_id)
        if vc is None:      # a call started as a typed call: give it a clock now
            vc = self.voice_store.start(call_id, source="practice", clock0=time.time())
        audio = to_stt(sample_rate, data)
        yield from self.loop().turn(call_id, audio, eot_s=eot_s, arrived_at=arrived_at, clock0=vc.clock0)

    def retry(self, call_id: str, *, actor) -> Iterator[VoiceEvent]:
        """Generate (and speak) the customer's reply again after the model was unreachable."""
        self.app.authorize_call(actor, call_id, write=True)
        vc = self.voice_store.call(call_id) or self.voice_store.start(call_id, source="practice", clock0=time.time())
        yield from self.loop().turn(call_id, None, clock0=vc.clock0, retry=True)

    def end_of_turn(self) -> EndOfTurn:
        return self._eot_factory() if self._eot_factory else EndOfTurn(silence_ms=self.config.vad_silence_ms, question_ms=self.config.question_ms,
                                                                           hold_ms=self.config.hold_ms)

    def hands_free(self, call_id: str) -> HandsFree:
        return HandsFree(self, call_id)

    def ready_turn(self, call_id: str, ready: ReadyTurn, *, actor) -> Iterator[VoiceEvent]:
        """The reply to a turn whose end the VAD detected (its transcript is already done)."""
        self.app.authorize_call(actor, call_id, write=True)
        vc = self.voice_store.call(call_id) or self.voice_store.start(call_id, source="practice", clock0=time.time())
        handoff = max(0.0, time.time() - ready.ready_at) if ready.ready_at else 0.0     # web handler → this reply
        yield from self.loop().turn(call_id, ready.audio, eot_s=ready.eot_s, arrived_at=ready.arrived_at, clock0=vc.clock0,
                                    transcript=ready.transcript, stt_wait_s=ready.stt_wait_s, handoff_s=handoff)

    def end_call(self, call_id: str, *, actor) -> Scorecard:
        if not wait_for_replies(call_id):  # pressed while the customer speaks: that reply and its timings are stored first
            log.warning("call %s: a reply was still running when the call was ended", call_id)
        wait_for_refined(call_id)          # grade the full-window transcripts of the trainee's turns
        card = self.app.end_call(call_id, actor)
        if self.config.keep_audio:
            try:
                self.mix_call(call_id)
            except Exception as exc:  # noqa: BLE001 - replay is optional; the scorecard is what matters
                log.warning("could not mix the call audio: %s", exc)
        return card

    def mix_call(self, call_id: str) -> Path | None:
        """The whole practice call as one stereo WAV (agent left, customer right) on the call's clock: the same
        layout as a contact-center export, so it can be replayed beside the transcript or graded again."""
        from .audio import load
        segs = [s for s in self.voice_store.segments(call_id) if s.audio_path and Path(s.audio_path).is_file()]
        if not segs:
            return None
        end = max(s.end_s for s in segs) + 1.0
        start = max(0.0, min(s.start_s for s in segs) - 0.5)
        out = np.zeros((int((end - start) * STT_RATE) + 1, 2), dtype=np.float32)
        for s in segs:
            (pcm,) = load(s.audio_path, split_stereo=False)
            if s.speaker == "agent":
                offset = json_get(s.timings_json, "offset_in_clip_s", 0.0)
                at = s.start_s - offset - start
            else:
                at = s.start_s - start
            i = max(0, int(at * STT_RATE))
            pcm = pcm[: max(0, len(out) - i)]
            out[i:i + len(pcm), 0 if s.speaker == "agent" else 1] += pcm
        path = write_wav(self.audio_root / call_id / "call.wav", np.clip(out, -1, 1), STT_RATE)
        self.voice_store.start(call_id, audio_path=str(path))
        return path

    def call_audio(self, call_id: str) -> str | None:
        vc = self.voice_store.call(call_id)
        return vc.audio_path if vc and vc.audio_path and Path(vc.audio_path).is_file() else None

    def call_audio_bytes(self, call_id: str, *, actor) -> bytes | None:
        """The call audio as bytes, for the browser. (Gradio probes a file path with ffprobe when ffmpeg is on PATH,
        and the ffmpeg we provide comes without ffprobe; bytes skip the probe.)"""
        self.app.authorize_call(actor, call_id)
        path = self.call_audio(call_id)
        return Path(path).read_bytes() if path else None

    def import_recording(self, path: str | Path, *, trainee: str, scenario_id: str | None = None, layout: str = "auto",
                         agent_channel: str = "left", progress=None, actor):
        """actor (web app): a trainee may upload their own calls; a lead their team's; an admin anyone's."""
        from .recording import import_recording
        from ..accounts import NotLoggedIn, is_system
        if actor is None:
            raise NotLoggedIn("Please log in.")
        if not is_system(actor):
            from ..accounts import AccountError, PermissionDenied
            # One answer for "no such user" and "not yours", so the form cannot be used to find out who has an account.
            refused = PermissionDenied("You can only upload recordings for yourself or a trainee on your team: check the username.")
            try:
                target = self.app.accounts.by_username((trainee or "").strip() or actor.username)
            except AccountError:
                raise refused from None
            if not self.app.accounts.can_see_user(actor, target.id):
                raise refused
            trainee = self.app.accounts.trainee_record(target).name
        return import_recording(self.app, path, stt=self.stt, trainee=trainee, scenario_id=scenario_id, layout=layout,
                                agent_channel=agent_channel, audio_dir=self.audio_root, progress=progress, vad=self.vad)


def preload(app, voice: "VoicePractice | None", *, say: Callable[[str], None] = print) -> dict[str, float]:
    """At app start, in the background: load the customer model (an in-process one) and the speech models, and run
    each once, so the first call, typed or spoken, does not wait for them. (Measured in the browser: a first voice
    turn that also loaded models waited 8.7 s for its reply, on 2 cores shared with the loading.) Returns the
    seconds each took; a failure is said, not raised: the call that needs the model reports it properly."""
    took: dict[str, float] = {}
    steps = [("customer model", lambda: getattr(app.customer_backend(), "load", lambda: None)())]
    if voice is not None:
        steps.append(("speech models", voice.warm_up))
    for name, step in steps:
        t0 = time.perf_counter()
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - the first call that needs it says what is wrong
            say(f"Could not load the {name} in advance ({exc}); the first call will try again.")
            continue
        took[name] = time.perf_counter() - t0
    if took:
        say("Ready: " + ", ".join(f"{k} loaded in {v:.1f} s" for k, v in took.items()) + ".")
    return took


def json_get(text: str, key: str, default):
    import json
    try:
        return json.loads(text or "{}").get(key, default)
    except ValueError:
        return default


@dataclass
class ReadyTurn:
    audio: np.ndarray                 # 16 kHz, the whole turn
    transcript: Transcript
    eot_s: float                      # end of speech → end of turn detected
    stt_wait_s: float                 # transcription left after the end was detected
    arrived_at: float
    cue: str | None = None            # "question" / "hold": the words changed the silence that ended the turn
    ready_at: float | None = None     # wall time the transcript was done (the reply starts a little later: the handoff)


class HandsFree:
    """Hands-free turn taking for one call: feed microphone chunks as they stream in; returns a ReadyTurn when
    the VAD has heard the trainee speak and then stop. Phrases are transcribed at short pauses meanwhile.

    The work runs in a worker thread, so `feed` returns within `wait_s` however long a phrase takes to transcribe.
    That matters: Gradio drops the microphone chunks that arrive while a streaming handler is still busy, and a
    handler that transcribed in place lost the words spoken meanwhile (seen in the browser: "Good morning, thank
    you for calling Brightwave Telecom, my name is Sam" arrived as "Good morning ... my name is Sam"). Chunks
    queue for the worker instead and are handled in order; a turn end found within `wait_s` is returned at once,
    a later one with the next chunk (or by `flush`)."""

    IDLE_S = 30.0                   # the worker stops after this long without audio (a new chunk starts it again)

    def __init__(self, vp: "VoicePractice", call_id: str, *, background: bool = True, wait_s: float = 0.05):
        self.vp = vp
        self.call_id = call_id
        self.eot = vp.end_of_turn()
        self.stt = vp.stt
        self.phrases = PhraseTranscriber(self.stt)
        self.turns = 0
        self.background = background
        self.wait_s = wait_s
        self._inbox: queue.Queue = queue.Queue()
        self._cond = threading.Condition()
        self._fed = 0                  # chunks handed to the worker
        self._done = 0                 # chunks it has handled
        self._ready: list[ReadyTurn] = []
        self._error: BaseException | None = None
        self._worker: threading.Thread | None = None
        self.max_lag_s = 0.0           # the longest a chunk waited for the worker (a phrase being transcribed)
        self._head_start: tuple[str, bool] | None = None       # a speculative prefill waiting for the queue to empty

    def feed(self, sample_rate: int, data: np.ndarray) -> ReadyTurn | None:
        if data is None or len(data) == 0:
            return self._take()
        audio, now = to_stt(sample_rate, data), time.time()
        if not self.background:
            return self._handle(audio, now)
        with self._cond:
            self._fed += 1
            seq = self._fed
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, daemon=True, name=f"hands-free-{self.call_id[:8]}")
                self._worker.start()
        self._inbox.put((audio, now))
        with self._cond:
            self._cond.wait_for(lambda: self._done >= seq or self._error is not None, timeout=self.wait_s)
        return self._take()

    def flush(self, timeout: float = 30.0) -> ReadyTurn | None:
        """Wait until every chunk fed so far is handled; the turn end among them, if any."""
        with self._cond:
            self._cond.wait_for(lambda: self._done >= self._fed or self._error is not None, timeout=timeout)
        return self._take()

    def _take(self) -> ReadyTurn | None:
        with self._cond:
            if self._error is not None:
                err, self._error = self._error, None
                raise err
            return self._ready.pop(0) if self._ready else None

    def _work(self) -> None:
        while True:
            try:
                audio, arrived = self._inbox.get(timeout=self.IDLE_S)
            except queue.Empty:
                with self._cond:
                    if self._done >= self._fed:      # nothing was put in since: stop (feed starts a new worker)
                        self._worker = None
                        return
                continue
            ready, error = None, None
            try:
                self.max_lag_s = max(self.max_lag_s, time.time() - arrived)
                ready = self._handle(audio, arrived)
            except Exception as exc:  # noqa: BLE001 - handed to the next feed, in the web handler's thread
                log.warning("hands-free turn detection failed: %s", exc)
                error = exc
            if self._head_start is not None and self._inbox.empty():
                self._start_head_start()
            with self._cond:
                self._done += 1
                if ready is not None:
                    self._ready.append(ready)
                if error is not None:
                    self._error = error
                self._cond.notify_all()

    def _start_head_start(self) -> None:
        words, with_direction = self._head_start
        self._head_start = None
        self.vp.prefill(self.call_id, agent_text=words, with_direction=with_direction)

    def _handle(self, audio: np.ndarray, arrived: float) -> ReadyTurn | None:
        fired = self.eot.feed(audio)
        if fired is None:
            if self.eot.new_pause is not None and self.phrases.pause(np.concatenate(self.eot.chunks), self.eot.new_pause):
                cue = self.eot.heard(self.phrases.last_text)  # a question ends the turn sooner; "and, um…" holds it
                if self.vp.config.speculative_prefill and cue != "hold":
                    # a head start for the reply (the direction only at a full stop), once the chunks that queued while
                    # the phrase was transcribed are handled: they may already hold the end of the turn, and a prefill
                    # started then would have the model when the reply wants it
                    self._head_start = (" ".join(self.phrases.texts), ends_sentence(self.phrases.last_text))
                    if not self.background:
                        self._start_head_start()
                else:
                    self._head_start = None
            return None
        self._head_start = None
        transcript = self.phrases.finish(fired.audio)
        self.phrases = PhraseTranscriber(self.stt)
        self.turns += 1
        # from the arrival of the chunk that completed the silence: the transcription left and any wait in the queue
        return ReadyTurn(audio=fired.audio, transcript=transcript, eot_s=max(0.0, fired.detected_at - fired.speech_end),
                         stt_wait_s=max(0.0, time.time() - arrived), arrived_at=arrived, cue=fired.cue,
                         ready_at=time.time())
