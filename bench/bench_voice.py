"""Voice-to-voice latency on the embedded models: end of the trainee's speech → first audio of the
customer's reply, with a breakdown per stage (end-of-turn detection, speech-to-text, first LLM token,
first speakable chunk, first TTS audio).

The trainee's speech is synthesised by piper itself (faster, flatter settings than the customer's voice)
so the run is reproducible; it is streamed in 100 ms chunks through the end-of-turn detector (VAD), then
the audio up to the detection goes through the real voice turn loop on the embedded 1.5B customer model.
As in the app's hands-free mode, each phrase is transcribed at its pause, its words may shorten or lengthen the
silence that ends the turn, and the reply's prompt up to what was said so far (with the direction it would get) is
evaluated in the background. The app's one chunk handler is simulated on a real-time clock: whatever work is still
running when the end of the turn is detected counts as waiting. --ab plays every call without, then with, that
speculative prefill, so the two are compared under the same machine load.
Scripted calls: double-billed-dana, then late-fee-lucas (the agent lines of bench_call.py).

    .venv/bin/python bench/bench_voice.py [--label NAME] [--silence-ms 500] [--no-first-clause] [--beam 1]
                                          [--whisper tiny.en|DIR] [--no-prefill] [--no-phrases] [--no-speculative] [--turns 10]
                                          [--no-cues] [--question-ms 450] [--hold-ms 1200] [--no-warm] [--full-window]
                                          [--ab] [--repeat N]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, load_avg, median, pct, peak_rss_mib, prompt_eval_rate, setup_env  # noqa: E402

setup_env()

import numpy as np  # noqa: E402

from bench_call import SCRIPTS  # noqa: E402
from trainer.accounts import SYSTEM  # noqa: E402
from trainer.service import Frontline  # noqa: E402
from trainer.voice.audio import STT_RATE, resample  # noqa: E402
from trainer.voice.loop import wait_for_refined  # noqa: E402
from trainer.voice.service import STREAM_EVERY_S, VoiceConfig, VoicePractice  # noqa: E402
from trainer.voice.stt import EndOfTurn, PhraseTranscriber, WhisperSTT, ends_sentence  # noqa: E402
from trainer.voice.tts import PiperTTS, VoiceSettings  # noqa: E402

TARGET_P50, TARGET_P95 = 1.5, 2.5
TRAINEE_VOICE = VoiceSettings(speed=1.15, variation=0.4)      # not the customer's settings
CHUNK = int(STT_RATE * STREAM_EVERY_S)                     # what the app's microphone stream delivers at a time


def trainee_audio(tts: PiperTTS, text: str) -> tuple[np.ndarray, float]:
    """Synthesised agent speech at 16 kHz with 0.3 s of silence before and 1.5 s after; returns (audio, true speech end)."""
    sr, pcm = tts.synthesize(text, TRAINEE_VOICE)
    a = resample(pcm.astype(np.float32) / 32768.0, sr, STT_RATE)
    loud = np.nonzero(np.abs(a) > 0.01)[0]
    end = (loud[-1] + 1) / STT_RATE if len(loud) else len(a) / STT_RATE
    lead = np.zeros(int(0.3 * STT_RATE), np.float32)
    rng = np.random.default_rng(0)
    audio = np.concatenate([lead, a, np.zeros(int(1.5 * STT_RATE), np.float32)])
    audio += rng.normal(0, 0.002, len(audio)).astype(np.float32)                 # a quiet room, not digital silence
    return audio, float(0.3 + end)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--label", default="default")
    ap.add_argument("--silence-ms", type=int, default=500)
    ap.add_argument("--no-first-clause", action="store_true")
    ap.add_argument("--no-prefill", action="store_true", help="no prefill of the prompt header at call start")
    ap.add_argument("--no-warm", action="store_true", help="do not read each reply into the model's cache before the next turn")
    ap.add_argument("--beam", type=int, default=1)
    ap.add_argument("--compute-type", default="int8")
    ap.add_argument("--whisper", default="tiny.en")
    ap.add_argument("--turns", type=int, default=10)
    ap.add_argument("--pause-ms", type=int, default=200)
    ap.add_argument("--question-ms", type=int, default=VoiceConfig.question_ms)
    ap.add_argument("--hold-ms", type=int, default=VoiceConfig.hold_ms)
    ap.add_argument("--full-window", action="store_true", help="live phrases too are transcribed with whisper's full 30 s window")
    ap.add_argument("--ab", action="store_true", help="play each call twice, without and with speculative prefill, and compare")
    ap.add_argument("--repeat", type=int, default=1, help="play each scripted call this many times")
    ap.add_argument("--no-cues", action="store_true", help="end-of-turn by silence only (the words of the phrase do not change it)")
    ap.add_argument("--no-phrases", action="store_true", help="transcribe the whole turn after it ends (no phrase-by-phrase STT)")
    ap.add_argument("--no-speculative", action="store_true",
                    help="do not evaluate the reply's prompt at the trainee's pauses (the app's default does: FRONTLINE_VOICE_SPECULATIVE)")
    args = ap.parse_args()

    t0 = time.perf_counter()
    app = Frontline()
    backend = app.customer_backend()
    backend.load()
    llm_load = time.perf_counter() - t0
    rate_start = prompt_eval_rate(backend)
    stt = WhisperSTT(args.whisper, beam_size=args.beam, compute_type=args.compute_type, short_window=VoiceConfig.whisper_short_window and not args.full_window)
    tts = PiperTTS()
    cfg = VoiceConfig(whisper_model=args.whisper, vad_silence_ms=args.silence_ms, keep_audio=False,
                      split_first_clause=not args.no_first_clause)
    vp = VoicePractice(app, stt=stt, tts=tts, config=cfg)
    t1 = time.perf_counter()
    vp.warm_up()
    speech_load = time.perf_counter() - t1

    rows = []
    variants = [False, True] if args.ab else [VoiceConfig.speculative_prefill and not args.no_speculative]
    for persona, script in [sc for sc in SCRIPTS for _ in range(args.repeat)]:
        for spec in variants:        # with --ab the same call is played without, then with, speculative prefill
            session = vp.start_call("Bench Trainee", persona, actor=SYSTEM)
            session.warm_after_reply = not args.no_warm
            if not args.no_prefill:
                vp.prefill(session.id, wait=True)            # what the app does while the trainee reads the brief
            loop = vp.loop()
            for step, line in script[: args.turns]:
                if session.ended:
                    break
                wait_for_refined(session.id)      # the full-window transcript of the last turn, made meanwhile
                session.warmed()   # the trainee listens to the reply and speaks for seconds; the background prefill needs a fraction
                audio, speech_end = trainee_audio(tts, line)
                # Real time, simulated (see below). Phrase transcriptions start when a pause is seen
                # (or when the previous one finishes) and take their measured compute time; nothing else runs meanwhile.
                eot = EndOfTurn(silence_ms=args.silence_ms, pause_ms=args.pause_ms, question_ms=args.question_ms, hold_ms=args.hold_ms)
                phrases = PhraseTranscriber(stt) if not args.no_phrases else None
                # Real time, simulated: chunk k arrives at (k+1)·CHUNK. As in the app, one handler takes the chunks in order,
                # each when it has arrived and the handler has finished the previous one (VAD, and at a pause the phrase's
                # transcription); `clock` is when the handler is free. Nothing else runs meanwhile.
                # With --speculative, the reply's prompt up to what was said so far is read into the model's cache in the
                # background after each phrase (as HandsFree does); the CPU is taken to be busy with it until `bg_free`, so
                # the next phrase's transcription, and the reply itself, wait for it.
                clock, bg_free, fired = 0.0, 0.0, None
                for i in range(0, len(audio), CHUNK):
                    clock = max(clock, (i + CHUNK) / STT_RATE)
                    t_f = time.perf_counter()
                    fired = eot.feed(audio[i:i + CHUNK])
                    clock += time.perf_counter() - t_f
                    if fired:
                        break
                    if phrases is not None and eot.new_pause is not None:
                        clock = max(clock, bg_free)
                        before = phrases.seconds
                        ran = phrases.pause(audio, eot.new_pause)
                        clock += phrases.seconds - before
                        cue = eot.heard(phrases.last_text) if ran and not args.no_cues else None
                        if ran and spec and cue != "hold":      # as HandsFree: not while they trail off
                            t_p = time.perf_counter()
                            session.warm(agent_text=" ".join(phrases.texts), with_direction=ends_sentence(phrases.last_text), wait=True)
                            bg_free = clock + time.perf_counter() - t_p
                if fired is None:
                    print(f"  {persona} {step}: end of turn never detected", file=sys.stderr)
                    continue
                eot_s = max(0.0, clock - speech_end)           # the end of the turn is known when the handler has decided it
                bg_wait = max(0.0, bg_free - clock)            # a speculative prefill still running: the reply starts after it
                if phrases is not None:
                    before = phrases.seconds
                    heard_t = phrases.finish(fired.audio)
                    stt_wait = phrases.seconds - before
                    events = list(loop.turn(session.id, fired.audio, eot_s=eot_s, clock0=time.time(), transcript=heard_t,
                                            stt_wait_s=stt_wait + bg_wait))
                else:
                    events = list(loop.turn(session.id, fired.audio, eot_s=eot_s, clock0=time.time()))
                final = events[-1]
                if final.kind != "customer_text":
                    print(f"  {persona} {step}: {final.text}", file=sys.stderr)
                    continue
                heard = next(e.text for e in events if e.kind == "agent_text")
                t = final.timings
                row = {"persona": persona, "step": step, "said": line, "heard": heard, "reply": final.text, "cue": fired.cue, "speculative": spec, "call": session.id, "bg_wait_s": round(bg_wait, 3),
                       "chunks": sum(e.kind == "customer_audio" for e in events), **{k: t[k] for k in
                       ("eot_s", "stt_s", "llm_first_token_s", "first_chunk_s", "tts_first_s", "voice_to_voice_s")},
                       "llm_prompt_tokens": backend.last_stats.prompt_tokens, "llm_reused_tokens": backend.last_stats.reused_tokens}
                rows.append(row)
                print(f"  {persona[:12]:12} {step:14} v2v {row['voice_to_voice_s']:.2f}s = eot {row['eot_s']:.2f} + stt {row['stt_s']:.2f} "
                      f"+ llm→chunk {row['first_chunk_s']:.2f} (1st tok {row['llm_first_token_s']:.2f}) + tts {row['tts_first_s']:.2f}"
                      f"   heard: {heard[:50]!r}")
            wait_for_refined(session.id)
            stored = [t.text for t in app.store.turns(session.id) if t.speaker == "agent"]
            for r, st in zip([r for r in rows if r.get("call") == session.id], stored):
                r["stored"] = st              # the transcript kept for the grader (re-transcribed with the full window)
            app.end_call(session.id, SYSTEM)

    def stat(key, subset=None):
        xs = [r[key] for r in (rows if subset is None else subset) if r[key] is not None]
        return {"p50": round(median(xs), 3), "p95": round(pct(xs, 0.95), 3), "max": round(max(xs), 3) if xs else None}
    v2v = stat("voice_to_voice_s")
    rate_end = prompt_eval_rate(backend)
    summary = {
        "label": args.label, "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpus": os.cpu_count(),
        "load_avg_at_end": load_avg(), "machine_shared": True,
        "prompt_eval_tok_s": {"start": rate_start, "end": rate_end},
        "settings": {"whisper": args.whisper, "beam": args.beam, "compute_type": args.compute_type, "vad_silence_ms": args.silence_ms,
                     "first_clause": not args.no_first_clause, "prefill": not args.no_prefill, "warm_after_reply": not args.no_warm,
                     "phrase_stt": not args.no_phrases, "pause_ms": args.pause_ms,
                     "word_cues": not args.no_cues, "question_ms": args.question_ms, "hold_ms": args.hold_ms, "chunk_s": CHUNK / STT_RATE,
                     "speculative_prefill": "A/B" if args.ab else bool(variants[0] and not args.no_phrases), "whisper_short_window": stt.short_window},
        "turns": len(rows), "voice_to_voice_s": v2v,
        "stages_s": {k: stat(k) for k in ("eot_s", "stt_s", "llm_first_token_s", "first_chunk_s", "tts_first_s")},
        "target": {"p50": TARGET_P50, "p95": TARGET_P95, "met": bool(v2v["p50"] <= TARGET_P50 and v2v["p95"] <= TARGET_P95)},
        "load_s": {"llm": round(llm_load, 2), "whisper_and_piper_with_warmup": round(speech_load, 2)},
        "peak_rss_mib": round(peak_rss_mib()), "stt_exact_words": sum(_norm(r["said"]) == _norm(r["heard"]) for r in rows),
        "cues": {c: sum(r["cue"] == c for r in rows) for c in ("question", "hold")},
        "cut_short": sum(len(_words(r["heard"])) < 0.7 * len(_words(r["said"])) for r in rows),
        "stt_full_window_retries": stt.full_window_retries,
        "stored_wer": round(sum(_edits(r["said"], r.get("stored", r["heard"])) for r in rows) / max(1, sum(len(_words(r["said"])) for r in rows)), 3),
        "stt_wer": round(sum(_edits(r["said"], r["heard"]) for r in rows) / max(1, sum(len(_words(r["said"])) for r in rows)), 3),
        "rows": rows,
    }
    if args.ab:
        summary["ab"] = {}
        for spec in variants:
            sub = [r for r in rows if r["speculative"] == spec]
            summary["ab"]["speculative" if spec else "base"] = {
                "turns": len(sub), "voice_to_voice_s": stat("voice_to_voice_s", sub),
                "stages_p50_s": {k: stat(k, sub)["p50"] for k in ("eot_s", "stt_s", "llm_first_token_s", "first_chunk_s", "tts_first_s")}}
    out = RESULTS / "bench_voice.json"
    RESULTS.mkdir(exist_ok=True)
    data = json.loads(out.read_text()) if out.is_file() else {}
    data[args.label] = summary
    out.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    print(f"\nvoice-to-voice over {len(rows)} turns: p50 {v2v['p50']:.2f}s  p95 {v2v['p95']:.2f}s  (target p50 ≤ {TARGET_P50}, p95 ≤ {TARGET_P95}: "
          f"{'MET' if summary['target']['met'] else 'MISSED'})")
    for k, s in summary["stages_s"].items():
        print(f"  {k:18} p50 {s['p50']:.3f}  p95 {s['p95']:.3f}")
    print(f"  loads: llm {llm_load:.1f}s, whisper+piper+warm-up {speech_load:.1f}s; peak RSS {summary['peak_rss_mib']} MiB; "
          f"STT exact on {summary['stt_exact_words']}/{len(rows)} lines, WER {summary['stt_wer']:.1%}; load avg {load_avg()}")
    print(f"  STT WER: live {summary['stt_wer']:.1%}, stored for grading {summary['stored_wer']:.1%}")
    print(f"  machine: prompt evaluation {rate_start:.0f} tok/s at the start, {rate_end:.0f} at the end (a quiet machine: about 160)")
    print(f"  end of turn by word cue: {summary['cues']}; turns cut short (heard < 70 % of the words said): {summary['cut_short']}")
    for name, ab in summary.get("ab", {}).items():
        print(f"  A/B {name:12} over {ab['turns']} turns: v2v p50 {ab['voice_to_voice_s']['p50']:.2f}s p95 {ab['voice_to_voice_s']['p95']:.2f}s; "
              + ", ".join(f"{k} {v:.2f}" for k, v in ab["stages_p50_s"].items()))
    print(f"wrote {out} [{args.label}]")
    return 0


def _words(s: str) -> list[str]:
    import re
    return re.findall(r"[a-z0-9']+", s.lower().replace("£", ""))


def _edits(ref: str, hyp: str) -> int:
    a, b = _words(ref), _words(hyp)
    d = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(b) + 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] != b[j - 1]))
    return d[len(b)]


def _norm(s: str) -> str:
    import re
    return re.sub(r"[^a-z0-9]", "", s.lower())


if __name__ == "__main__":
    raise SystemExit(main())
