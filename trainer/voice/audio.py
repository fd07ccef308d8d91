"""Audio plumbing: 16 kHz mono float32 for whisper, WAV bytes for the browser, files via PyAV."""
from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np

STT_RATE = 16000


def to_float(data: np.ndarray) -> np.ndarray:
    """Any PCM array (int16, int32, float; mono or (n, channels)) → float32 in [-1, 1], channels kept."""
    a = np.asarray(data)
    if a.dtype == np.int16:
        return a.astype(np.float32) / 32768.0
    if a.dtype == np.int32:
        return a.astype(np.float32) / 2147483648.0
    if a.dtype == np.uint8:
        return (a.astype(np.float32) - 128.0) / 128.0
    return a.astype(np.float32)


def resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    """Band-limited enough for speech recognition: a short low-pass before linear interpolation when downsampling."""
    if src == dst or len(x) == 0:
        return x.astype(np.float32)
    if dst < src:
        width = max(1, int(round(src / dst)))
        if width > 1:
            kernel = np.hanning(2 * width + 1)
            kernel /= kernel.sum()
            x = np.convolve(x, kernel, mode="same")
    n = int(round(len(x) * dst / src))
    t = np.arange(n) * (src / dst)
    return np.interp(t, np.arange(len(x)), x).astype(np.float32)


def to_stt(sample_rate: int, data: np.ndarray) -> np.ndarray:
    """What the browser microphone gives (rate, int16 array, maybe stereo) → 16 kHz mono float32."""
    a = to_float(data)
    if a.ndim == 2:
        a = a.mean(axis=1)
    return resample(a, int(sample_rate), STT_RATE)


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """int16 (or float) mono / (n, 2) stereo samples → a WAV file in memory."""
    a = np.asarray(samples)
    if a.dtype != np.int16:
        a = (np.clip(a, -1.0, 1.0) * 32767).astype(np.int16)
    channels = 1 if a.ndim == 1 else a.shape[1]
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(a.tobytes())
    return buf.getvalue()


def write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(wav_bytes(samples, sample_rate))
    return path


def channel_count(path: str | Path) -> int:
    import av
    try:
        with av.open(str(path), metadata_errors="ignore") as c:
            if not c.streams.audio:
                raise ValueError(f"{Path(path).name}: no audio stream found. Fix: upload a WAV or MP3 call recording")
            return c.streams.audio[0].channels
    except av.error.FFmpegError as exc:  # type: ignore[attr-defined]
        raise ValueError(f"{Path(path).name}: cannot read this file as audio ({exc}). Fix: upload a WAV or MP3 call recording") from exc


def load(path: str | Path, *, split_stereo: bool) -> tuple[np.ndarray, ...]:
    """Decode a WAV/MP3 (anything PyAV reads) to 16 kHz float32: (mono,) or (left, right)."""
    from faster_whisper.audio import decode_audio
    out = decode_audio(str(path), sampling_rate=STT_RATE, split_stereo=split_stereo)
    return tuple(out) if split_stereo else (out,)
