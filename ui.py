"""Frontline's web app (Gradio). Thin: every event calls a function in trainer.ui_handlers."""
from __future__ import annotations

import gradio as gr

from trainer import ui_handlers as h
from trainer.ui_voice import build_voice_tab
from trainer.service import Frontline

CSS = ".brief table {font-size: 0.9em} footer {display: none !important}"


def build(app: Frontline) -> gr.Blocks:
    with gr.Blocks(title="Frontline — call practice") as demo:
        gr.Markdown("# 📞 Frontline\nPractise customer calls against simulated customers, then read your scorecard.")
        call_id = gr.State("")
        with gr.Tab("Practice"):
            with gr.Row():
                trainee = gr.Textbox(label="Your name", placeholder="e.g. Sam Patel", scale=1)
                scenario = gr.Dropdown(choices=h.scenario_choices(app), label="Scenario", scale=3, value=None)
            with gr.Row():
                with gr.Column(scale=2):
                    brief = gr.Markdown("Pick a scenario to read its brief.", elem_classes=["brief"])
                    show_mood = gr.Checkbox(label="Show the customer's mood meter (practice mode)", value=True)
                    mood = gr.HTML("")
                    start = gr.Button("Start call", variant="primary")
                with gr.Column(scale=3):
                    chat = gr.Chatbot(label="Call", height=460, feedback_options=None)
                    with gr.Row():
                        msg = gr.Textbox(label="You (the agent)", placeholder="Type what you say and press Enter", scale=5, interactive=False)
                        send = gr.Button("Send", scale=1, interactive=False)
                    status = gr.Markdown("")
                    with gr.Row():
                        retry_reply = gr.Button("Retry reply", visible=False)
                        end = gr.Button("End call & grade", variant="stop", interactive=False)
            with gr.Row(visible=False) as result_row:
                with gr.Column(scale=3):
                    card = gr.Markdown()
                with gr.Column(scale=2):
                    plot = gr.LinePlot(x="customer turn", y="mood (0 calm – 10 furious)", title="Customer mood over the call",
                                       y_lim=[0, 10], height=260)
                    again = gr.Button("Retry this scenario", variant="primary")

        voice = build_voice_tab(app)          # Voice practice + Grade a recording (trainer/ui_voice.py)

        with gr.Tab("My calls") as calls_tab:
            with gr.Row():
                who = gr.Textbox(label="Trainee name", scale=2)
                pick = gr.Dropdown(label="Past calls", choices=[], scale=4)
                refresh = gr.Button("List calls", scale=1)
            with gr.Row():
                with gr.Column(scale=3):
                    past_chat = gr.Chatbot(label="Transcript", height=420, feedback_options=None)
                    past_audio = gr.Audio(label="Call audio (voice calls and recordings)", interactive=False)
                with gr.Column(scale=3):
                    past_plot = gr.LinePlot(x="customer turn", y="mood (0 calm – 10 furious)", title="Customer mood", y_lim=[0, 10], height=220)
                    past_card = gr.Markdown()

        # ---------------- events
        scenario.change(lambda s: h.brief_markdown(app, s), scenario, brief)

        def on_start(name, sc, show):
            try:
                cid, hist, meter = h.start_call(app, name, sc)
            except Exception as exc:  # noqa: BLE001
                raise gr.Error(str(exc))
            return (cid, hist, meter if show else "", gr.update(interactive=True, value=""), gr.update(interactive=True),
                    gr.update(interactive=True), "", gr.update(visible=False), gr.update(visible=False), gr.update(interactive=False))

        start_outputs = [call_id, chat, mood, msg, send, end, status, result_row, retry_reply, start]
        start.click(on_start, [trainee, scenario, show_mood], start_outputs)

        def on_send(cid, text, hist, show):
            try:
                for hist2, meter, info in h.stream_turn(app, cid, text, hist):
                    done = info["ended"]
                    yield (hist2, meter if show else "", gr.update(value="" if not info["error"] else text, interactive=not done),
                           gr.update(interactive=not done), f"⚠️ {info['error']}" if info["error"] else "",
                           gr.update(visible=bool(info["error"])))
            except ValueError as exc:
                raise gr.Error(str(exc))

        send_io = dict(fn=on_send, inputs=[call_id, msg, chat, show_mood], outputs=[chat, mood, msg, send, status, retry_reply])
        ev1 = msg.submit(**send_io)
        ev2 = send.click(**send_io)
        retry_reply.click(fn=on_send, inputs=[call_id, gr.State(""), chat, show_mood], outputs=[chat, mood, msg, send, status, retry_reply])

        def on_end(cid):
            try:
                md, frame = h.end_and_grade(app, cid)
            except Exception as exc:  # noqa: BLE001
                raise gr.Error(str(exc))
            return (md, frame, gr.update(visible=True), gr.update(interactive=False), gr.update(interactive=False),
                    gr.update(interactive=False), gr.update(interactive=True))

        end.click(on_end, call_id, [card, plot, result_row, msg, send, end, start])

        def auto_grade(cid):
            session = app.live.get(cid)
            if session is not None and session.ended:
                return on_end(cid)
            return (gr.update(),) * 7

        for ev in (ev1, ev2):
            ev.then(auto_grade, call_id, [card, plot, result_row, msg, send, end, start])
        again.click(on_start, [trainee, scenario, show_mood], start_outputs)

        refresh.click(lambda n: gr.update(choices=h.past_calls(app, n), value=None), who, pick)
        calls_tab.select(lambda n, m: (m, gr.update(choices=h.past_calls(app, m or n))), [who, trainee], [who, pick])

        def on_pick(cid):
            if not cid:
                return [], "", None
            return h.open_call(app, cid)

        pick.change(on_pick, pick, [past_chat, past_card, past_plot])
        pick.change(lambda cid: voice.call_audio_bytes(cid) if cid else None, pick, past_audio)
    return demo


def main(host: str | None = None, port: int | None = None) -> None:
    app = Frontline()
    if app.interrupted_on_start:
        print(f"Marked {len(app.interrupted_on_start)} interrupted call(s); they stay viewable under 'My calls'.")
    if app.catalog.problems:
        for p in app.catalog.problems:
            print(f"content problem: {p}")
    print("Preparing the customer model (first run assembles it once)…")
    app.customer_backend()
    demo = build(app)
    demo.queue(default_concurrency_limit=4).launch(server_name=host or app.settings.host, server_port=port or app.settings.port,
                                                   css=CSS, theme=gr.themes.Soft(), footer_links=[])


if __name__ == "__main__":
    main()
