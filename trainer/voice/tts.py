"""Text-to-speech with piper-tts: the embedded Joe voice, varied per persona by speed and variation,
or another Piper voice file a trainer owns."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from .models import piper_voice

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VoiceSettings:
    speed: float = 1.0              # 1.0 = the voice's own pace; 1.2 = 20 % faster
    variation: float = 0.667        # Piper's noise_scale: 0 flat and even, 1 lively
    model_path: str | None = None   # another Piper .onnx (with its .onnx.json beside it); None = the embedded voice

    @classmethod
    def for_persona(cls, persona, content_dir: Path | None = None) -> "VoiceSettings":
        """A relative model_path is relative to the content folder (where personas/ lives)."""
        v = getattr(persona, "voice", None)
        if v is None:
            return cls()
        path = v.model_path
        if path and content_dir is not None and not Path(path).expanduser().is_absolute():
            path = str(Path(content_dir) / path)
        return cls(speed=v.speed, variation=v.variation, model_path=path)


@runtime_checkable
class TextToSpeech(Protocol):
    name: str

    def synthesize(self, text: str, settings: VoiceSettings | None = None) -> tuple[int, np.ndarray]:
        """Return (sample rate, int16 mono samples) for the text."""
        ...


class PiperTTS:
    def __init__(self, *, default_model: Path | None = None):
        self._default = default_model
        self._voices: dict[str, object] = {}
        self._lock = threading.Lock()
        self.name = "piper:en_US-joe-medium"
        self.load_s = 0.0

    def voice(self, model_path: str | None = None):
        key = model_path or ""
        with self._lock:
            if key not in self._voices:
                if model_path:
                    path = Path(model_path).expanduser()
                    if not path.is_file() or not Path(f"{path}.json").is_file():
                        raise FileNotFoundError(f"voice.model_path {model_path}: the Piper voice file or its .onnx.json is missing. "
                                                f"Fix: put both files there, or remove voice.model_path to use the embedded voice")
                else:
                    path = self._default or piper_voice()
                from piper import PiperVoice
                t0 = time.perf_counter()
                self._voices[key] = PiperVoice.load(str(path))
                self.load_s = time.perf_counter() - t0
                log.info("loaded piper voice %s in %.2fs", path.name, self.load_s)
            return self._voices[key]

    def synthesize(self, text: str, settings: VoiceSettings | None = None) -> tuple[int, np.ndarray]:
        from piper import SynthesisConfig
        s = settings or VoiceSettings()
        voice = self.voice(s.model_path)
        cfg = SynthesisConfig(length_scale=1.0 / max(0.25, s.speed), noise_scale=s.variation,
                              noise_w_scale=0.4 + 0.6 * s.variation)
        parts = [c.audio_int16_array for c in voice.synthesize(text, syn_config=cfg)]
        rate = voice.config.sample_rate
        if not parts:
            return rate, np.zeros(0, dtype=np.int16)
        return rate, np.concatenate(parts)
