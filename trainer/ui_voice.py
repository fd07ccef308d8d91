"""The voice tabs of the web app: talk to the customer, and grade an uploaded call recording.
Thin: every event calls a function in trainer.voice.handlers."""
from __future__ import annotations

import logging

import gradio as gr

from . import ui_handlers as h
from .voice import handlers as vh
from .voice.ffmpeg import ensure_ffmpeg
from .voice.service import STREAM_EVERY_S, VoicePractice

# Press the hands-free recorder's Stop before a call ends or a new one starts. A recorder that is still running
# when its component is reset or disabled leaves Gradio's page thinking the stream is open, and the next Record
# then streams nothing (seen: the second call in a page heard nothing). Runs in the page, then passes the
# event's inputs on unchanged.
STOP_HANDS_FREE_JS = """(...args) => {
  const stop = [...document.querySelectorAll('#hf-mic button')].find(b => b.textContent.trim() === 'Stop');
  if (stop) stop.click();
  return args;
}"""

log = logging.getLogger(__name__)


def build_voice_tab(app, voice: VoicePractice | None = None, *, token: gr.State, max_upload_mb: int = 200) -> VoicePractice:
    """Add the 'Voice practice' and 'Grade a recording' tabs to the gr.Blocks being built. Calls belong to the signed-in
    user (`token`, the session); every event takes it, and the voice functions check who may act on the call."""
    vp = voice or VoicePractice(app)
    tok_in = [token]

    def actor(tok):
        return h.current_user(app, tok)
    ensure_ffmpeg(app.settings.home)          # Gradio streams the customer's voice through ffmpeg
    with gr.Tab("Voice practice", id="voice", visible=False) as voice_tab:
        call_id = gr.State("")
        with gr.Row():
            scenario = gr.Dropdown(choices=h.scenario_choices(app), label="Scenario", scale=3, value=None)
        with gr.Row():
            with gr.Column(scale=2):
                brief = gr.Markdown("Pick a scenario to read its brief.", elem_classes=["brief"])
                start = gr.Button("Start voice call", variant="primary")
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Call transcript", height=360, feedback_options=None)
                mode = gr.Radio(["Hands-free", "Push to talk"], value="Hands-free", label="Turn taking", interactive=True)
                hf_mic = gr.Audio(sources=["microphone"], type="numpy", streaming=True, interactive=False, elem_id="hf-mic",
                                  label="You — press Record once and talk; your turn ends when you stop speaking")
                mic = gr.Audio(sources=["microphone"], type="numpy", label="You — press Record, speak, press Stop (push to talk)",
                               interactive=False, visible=False)
                hf_state, hf_ready = gr.State(None), gr.State(None)
                hf_count = gr.Number(0, visible=False)
                customer = gr.Audio(label="Customer", streaming=True, autoplay=True, interactive=False)
                status = gr.Markdown("")
                with gr.Row():
                    retry_btn = gr.Button("Retry reply")
                    end = gr.Button("End call & grade", variant="stop", interactive=False)
        with gr.Row(visible=False) as result_row:
            with gr.Column(scale=3):
                card = gr.Markdown()
            with gr.Column(scale=2):
                replay = gr.Audio(label="Call audio (you left, customer right)", interactive=False)

    with gr.Tab("Grade a recording", id="recording", visible=False) as recording_tab:
        gr.Markdown("Upload a real call (WAV or MP3). A **stereo** contact-center export with the agent and the customer on "
                    "separate channels gives exact speakers; a **mono** file is split by pauses (check the transcript). "
                    "The call is graded with the same rubric and stored against the trainee, like a practice call. "
                    f"Files up to {max_upload_mb} MB.")
        with gr.Row():
            with gr.Column(scale=2):
                up_file = gr.File(label="Call recording", file_types=[".wav", ".mp3"], type="filepath")
                up_trainee = gr.Textbox(label="Trainee's username (empty: yourself)")
                up_scenario = gr.Dropdown(choices=[("None — a real call", "")] + h.scenario_choices(app), value="",
                                          label="Scenario it followed (optional)")
                with gr.Row():
                    up_layout = gr.Radio(["auto", "stereo", "mono"], value="auto", label="Channels")
                    up_channel = gr.Radio(["left", "right"], value="left", label="Agent's channel (stereo)")
                up_go = gr.Button("Transcribe & grade", variant="primary")
            with gr.Column(scale=3):
                up_audio = gr.Audio(label="Recording", interactive=False)
                up_chat = gr.Chatbot(label="Timed transcript", height=300, feedback_options=None)
        up_card = gr.Markdown()

    # ---------------- events
    scenario.change(lambda s: h.brief_markdown(app, s), scenario, brief)

    def on_start(tok, sc):
        cid, hist, st = vh.start(vp, "", sc, actor=actor(tok))
        return (cid, hist, st, gr.update(interactive=True, value=None), gr.update(interactive=True, value=None),
                gr.update(interactive=True), gr.update(visible=False), None)

    start.click(on_start, tok_in + [scenario], [call_id, chat, status, mic, hf_mic, end, result_row, hf_state],
                js=STOP_HANDS_FREE_JS)
    mode.change(lambda m: (gr.update(visible=m == "Hands-free"), gr.update(visible=m != "Hands-free")), mode, [hf_mic, mic])

    def on_chunk(tok, cid, chunk, state, count):
        log.debug("mic chunk: %s", None if chunk is None else (chunk[0], getattr(chunk[1], "shape", None), float(abs(chunk[1]).mean()) if len(chunk[1]) else 0))
        state, ready = vh.listen(vp, cid, chunk, state, actor=actor(tok))
        if ready is None:
            return state, gr.skip(), gr.skip()
        return state, ready, (count or 0) + 1

    hf_mic.stream(on_chunk, tok_in + [call_id, hf_mic, hf_state, hf_count], [hf_state, hf_ready, hf_count], stream_every=STREAM_EVERY_S,
                  time_limit=1800, concurrency_limit=None)

    def on_ready(tok, cid, ready, hist):
        for audio, hist2, st, ended in vh.answer(vp, cid, ready, hist, actor=actor(tok)):
            yield audio, hist2, st

    hf_turn = hf_count.change(on_ready, tok_in + [call_id, hf_ready, chat], [customer, chat, status])

    def on_retry(tok, cid, hist):
        for audio, hist2, st, ended in vh.retry(vp, cid, hist, actor=actor(tok)):
            yield audio, hist2, st

    retried = retry_btn.click(on_retry, tok_in + [call_id, chat], [customer, chat, status])

    def on_utterance(tok, cid, rec, hist):
        for audio, hist2, st, ended in vh.speak(vp, cid, rec, hist, actor=actor(tok)):
            yield audio, hist2, st, gr.update(interactive=not ended) if ended else gr.update()
        yield None, gr.skip(), gr.skip(), gr.update(value=None)          # clear the recorder for the next turn

    turn = mic.stop_recording(on_utterance, tok_in + [call_id, mic, chat], [customer, chat, status, mic])

    def on_end(tok, cid):
        md, audio = vh.end(vp, cid, actor=actor(tok))
        return md, audio, gr.update(visible=True), gr.update(interactive=False), gr.update(interactive=False)

    end.click(on_end, tok_in + [call_id], [card, replay, result_row, mic, end], js=STOP_HANDS_FREE_JS).then(lambda: gr.update(interactive=False), None, hf_mic)

    def auto_grade(tok, cid):
        session = app.live.get(cid) if cid else None
        if session is not None and session.ended:
            return on_end(tok, cid)
        return (gr.skip(),) * 5

    turn.then(auto_grade, tok_in + [call_id], [card, replay, result_row, mic, end])
    hf_turn.then(auto_grade, tok_in + [call_id], [card, replay, result_row, mic, end])
    retried.then(auto_grade, tok_in + [call_id], [card, replay, result_row, mic, end])

    def on_upload(tok, path, name, sc, layout, channel, progress=gr.Progress()):
        return vh.upload(vp, path, name, sc, layout, channel, progress=lambda f, m: progress(f, desc=m), actor=actor(tok))

    vp.tabs = {"voice": voice_tab, "recording": recording_tab}
    up_go.click(on_upload, tok_in + [up_file, up_trainee, up_scenario, up_layout, up_channel], [up_card, up_chat, up_audio])
    return vp
