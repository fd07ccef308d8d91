"""Frontline's web app (Gradio). Thin: every event calls a function in trainer.ui_handlers / ui_accounts / ui_dashboard,
each of which resolves the browser's session token to a user and passes it to the functions that check the role.
Every event is a public HTTP endpoint: trainer.ui_guard wraps them all (see guard_events at the end of build)."""
from __future__ import annotations

import functools

import gradio as gr

from trainer import ui_accounts as ua
from trainer import ui_dashboard as ud
from trainer import ui_handlers as h
from trainer.accounts import ROLES, require_role
from trainer import tempfiles
from trainer.config import apply_trusted_proxies, env_flag
from trainer.service import Frontline
from trainer.ui_guard import SecurityHeaders, guard_events
from trainer.ui_studio import build_coaching_panel, build_studio_tab
from trainer.ui_voice import build_voice_tab

CSS = """.brief table {font-size: 0.9em} footer {display: none !important}
#login-box {max-width: 420px; margin: 40px auto 0 auto}
#whoami {padding-top: 8px}"""
MOOD_Y = "mood (0 calm – 10 furious)"
MAX_UPLOAD_MB = 200          # a recording of a long call as WAV; Gradio refuses bigger uploads before they reach a handler
# The session token is the credential (random, stored hashed, expiring, revocable). Gradio "encrypts" a BrowserState
# with a key that it must hand to every browser in /config, so that key protects nothing; it is a fixed, public value
# so that every app process (and a restarted one) reads the same stored token.
BROWSER_STATE_KEY = "frontline-session-token-not-a-secret"


def _soft(fn, n_outputs: int):
    """For form actions: bad input becomes a warning toast and a message in the form's first output, and the other
    outputs stay as they were (instead of every output showing an error badge). A refusal (not signed in, not
    allowed) is not softened: it leaves as an error, like every other event's (trainer.ui_guard)."""
    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except PermissionError:
            raise
        except ua.ERRORS as exc:
            text = h.esc(str(exc).strip("'\""))
            gr.Warning(text)
            rest = [gr.update()] * (n_outputs - 1)
            return (f"**Not done:** {text}", *rest) if rest else f"**Not done:** {text}"
    return wrapped


def build(app: Frontline) -> gr.Blocks:
    with gr.Blocks(title="Frontline — call practice", analytics_enabled=False) as demo:
        token = gr.BrowserState("", storage_key="frontline-session", secret=BROWSER_STATE_KEY)
        call_id = gr.State("")
        with gr.Row():
            gr.Markdown("# Frontline\nPractise customer calls against simulated customers, then read your scorecard.")
            whoami = gr.Markdown("", elem_id="whoami")
            logout_btn = gr.Button("Log out", size="sm", scale=0, visible=False)

        # ---------------------------------------------------------------- login
        with gr.Column(visible=True, elem_id="login-box") as login_box:
            gr.Markdown("## Sign in")
            first_run = gr.Markdown(ua.first_run_hint(app))
            username = gr.Textbox(label="Username", placeholder="e.g. sam.patel")
            password = gr.Textbox(label="Password", type="password")
            login_btn = gr.Button("Sign in", variant="primary")
            login_msg = gr.Markdown("")

        with gr.Column(visible=False, elem_id="login-box") as first_pw_box:
            gr.Markdown("## Choose your own password\nYou signed in with a one-time password. Choose a new one to continue.")
            fp_now = gr.Textbox(label="One-time password", type="password")
            fp_new = gr.Textbox(label="New password (8+ characters)", type="password")
            fp_again = gr.Textbox(label="New password again", type="password")
            fp_btn = gr.Button("Set my password", variant="primary")
            fp_msg = gr.Markdown("")

        with gr.Column(visible=False) as main_box:
            with gr.Tabs():
                # ------------------------------------------------------------ practice
                with gr.Tab("Practice", id="practice") as practice_tab:
                    next_hint = gr.Markdown("")
                    with gr.Row():
                        module = gr.Dropdown(choices=[("Free practice (pick any scenario)", "")], label="Curriculum module", scale=3, value="")
                        scenario = gr.Dropdown(choices=h.scenario_choices(app), label="Scenario", scale=3, value=None)
                    with gr.Row():
                        with gr.Column(scale=2):
                            brief = gr.Markdown("Pick a scenario to read its brief.", elem_classes=["brief"])
                            show_mood = gr.Checkbox(label="Show the customer's mood meter (practice mode)", value=True)
                            mood = gr.HTML("")
                            start = gr.Button("Start call", variant="primary")
                            with gr.Column() as coach_box:
                                coach = build_coaching_panel(app, call_id, mode="practice", token=token)
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
                            plot = gr.LinePlot(x="customer turn", y=MOOD_Y, title="Customer mood over the call", y_lim=[0, 10], height=260)
                            again = gr.Button("Retry this scenario", variant="primary")

                # ------------------------------------------------------------ progress
                with gr.Tab("My progress", id="progress") as progress_tab:
                    with gr.Row():
                        with gr.Column(scale=3):
                            next_md = gr.Markdown()
                        with gr.Column(scale=3):
                            gr.Markdown("### My assignments")
                            my_assign = gr.HTML()
                    progress_html = gr.HTML()
                    with gr.Accordion("Certificates", open=True):
                        cert_none = gr.Markdown("No certificates yet: pass every module of a curriculum to earn one.")
                        with gr.Row(visible=False) as cert_row:
                            cert_pick = gr.Dropdown(label="Certificate", choices=[], scale=3)
                            cert_file = gr.File(label="Printable page (open, then print)", scale=2, interactive=False)
                        cert_view = gr.HTML()
                    with gr.Accordion("My password", open=False):
                        with gr.Row():
                            pw_now = gr.Textbox(label="Current password", type="password")
                            pw_new = gr.Textbox(label="New password (8+ characters)", type="password")
                            pw_again = gr.Textbox(label="New password again", type="password")
                        pw_btn = gr.Button("Change password")
                        pw_msg = gr.Markdown()

                # ------------------------------------------------------------ voice (trainer/ui_voice.py)
                voice = build_voice_tab(app, token=token, max_upload_mb=MAX_UPLOAD_MB)     # Voice practice + Grade a recording
                demo.frontline_voice = voice

                # ------------------------------------------------------------ my calls
                with gr.Tab("My calls", id="calls") as calls_tab:
                    with gr.Row():
                        pick = gr.Dropdown(label="Past calls", choices=[], scale=5)
                        refresh = gr.Button("Refresh", scale=1)
                    with gr.Row():
                        with gr.Column(scale=3):
                            past_chat = gr.Chatbot(label="Transcript", height=420, feedback_options=None)
                            past_audio = gr.Audio(label="Call audio (voice calls and recordings)", interactive=False)
                        with gr.Column(scale=3):
                            past_plot = gr.LinePlot(x="customer turn", y=MOOD_Y, title="Customer mood", y_lim=[0, 10], height=220)
                            past_card = gr.Markdown()

                # ------------------------------------------------------------ dashboard (leads)
                with gr.Tab("Dashboard", id="dashboard", visible=False) as dash_tab:
                    with gr.Row(equal_height=True):
                        team = gr.Dropdown(label="Team", choices=[], scale=3)
                        dash_refresh = gr.Button("Refresh", scale=1)
                        exp_csv = gr.Button("Export sessions (CSV)", scale=1)
                        exp_xapi = gr.Button("Export xAPI statements", scale=1)
                    exp_file = gr.File(label="Export (download)", interactive=False, visible=False, height=80)
                    gr.Markdown("### Team\nClick a column header to sort; type in the search box to filter.")
                    team_df = gr.Dataframe(interactive=False, show_search="filter", wrap=True)
                    with gr.Row():
                        with gr.Column(scale=3):
                            missed_plot = gr.BarPlot(x="label", y="missed %", title="Criteria missed most (share of calls)", sort="-y",
                                                     height=340, x_label_angle=-35, y_lim=[0, 100])
                        with gr.Column(scale=3):
                            gr.Markdown("### Assignments")
                            assign_df = gr.Dataframe(interactive=False, show_search="filter", wrap=True, max_height=300,
                                                     column_widths=["16%", "22%", "42%", "20%"])
                    with gr.Accordion("Assign a curriculum or scenario", open=False):
                        with gr.Row():
                            assign_what = gr.Dropdown(label="What", choices=ud.assignable(app), scale=3)
                            assign_who = gr.Dropdown(label="Trainees", choices=[], multiselect=True, scale=3)
                            assign_team = gr.Checkbox(label="Whole team", value=False, scale=1)
                        with gr.Row():
                            assign_due = gr.Textbox(label="Due date (YYYY-MM-DD)", placeholder="2026-12-01", scale=2)
                            assign_note = gr.Textbox(label="Note for the trainees", scale=4)
                            assign_btn = gr.Button("Assign", variant="primary", scale=1)
                        assign_msg = gr.Markdown()
                    gr.Markdown("### One trainee")
                    with gr.Row():
                        dash_trainee = gr.Dropdown(label="Trainee", choices=[], scale=2)
                        dash_call = gr.Dropdown(label="Their calls", choices=[], scale=4)
                    trend_dims = gr.Dropdown(label="Dimensions on the plot", choices=ud.dimension_names(app), multiselect=True,
                                             value=["Overall"])
                    trend_plot = gr.LinePlot(x="when", y="score", color="dimension", title="Scores over time, by dimension", y_lim=[0, 100],
                                             height=320, x_title="call (number · date)", x_label_angle=-30)
                    with gr.Row():
                        with gr.Column(scale=3):
                            dash_chat = gr.Chatbot(label="Transcript", height=380, feedback_options=None)
                            comment = gr.Textbox(label="Coaching comment (the trainee sees it with this call)", lines=3)
                            comment_btn = gr.Button("Save comment")
                            comment_msg = gr.Markdown()
                        with gr.Column(scale=3):
                            dash_plot = gr.LinePlot(x="customer turn", y=MOOD_Y, title="Customer mood", y_lim=[0, 10], height=200)
                            dash_card = gr.Markdown()

                # ------------------------------------------------------------ studio (trainers): filled by trainer/ui_studio.py
                with gr.Tab("Studio", id="studio", visible=False) as studio_tab:
                    build_studio_tab(app, token=token, tab=False)

                # ------------------------------------------------------------ admin
                with gr.Tab("Admin", id="admin", visible=False) as admin_tab:
                    with gr.Row():
                        with gr.Column(scale=3):
                            gr.Markdown("### Users")
                            users_df = gr.Dataframe(interactive=False, show_search="filter", wrap=True)
                        with gr.Column(scale=2):
                            gr.Markdown("### Teams")
                            teams_df = gr.Dataframe(interactive=False, wrap=True)
                    with gr.Row():
                        with gr.Column():
                            gr.Markdown("#### Add a user")
                            nu_name = gr.Textbox(label="Full name")
                            nu_user = gr.Textbox(label="Username", placeholder="first.last")
                            with gr.Row():
                                nu_role = gr.Dropdown(label="Role", choices=list(ROLES), value="trainee")
                                nu_team = gr.Dropdown(label="Team", choices=[])
                            nu_pw = gr.Textbox(label="Initial password (8+ characters)", type="password")
                            nu_btn = gr.Button("Add user", variant="primary")
                        with gr.Column():
                            gr.Markdown("#### Change a user")
                            eu_user = gr.Dropdown(label="User", choices=[])
                            with gr.Row():
                                eu_role = gr.Dropdown(label="Role", choices=list(ROLES))
                                eu_team = gr.Dropdown(label="Team", choices=[])
                            eu_active = gr.Checkbox(label="Active", value=True)
                            eu_pw = gr.Textbox(label="Reset password (leave empty to keep)", type="password")
                            eu_btn = gr.Button("Save user")
                        with gr.Column():
                            gr.Markdown("#### Teams")
                            nt_name = gr.Textbox(label="New team name")
                            nt_lead = gr.Dropdown(label="Team lead", choices=[])
                            nt_btn = gr.Button("Add team")
                            st_team = gr.Dropdown(label="Team", choices=[])
                            st_lead = gr.Dropdown(label="New lead", choices=[])
                            st_btn = gr.Button("Set lead")
                    admin_msg = gr.Markdown()

        # ================================================================ events
        tab_names = ("practice", "voice", "recording", "progress", "calls", "dashboard", "studio", "admin")
        tabs = [practice_tab, voice.tabs["voice"], voice.tabs["recording"], progress_tab, calls_tab, dash_tab, studio_tab, admin_tab]

        def show_session(tok):
            user = ua.session_user(app, tok)
            must_change = user is None and ua.password_change_required(app, tok)
            vis = ua.visible_tabs(user)
            return (gr.update(visible=user is None and not must_change), gr.update(visible=user is not None),
                    ua.whoami_markdown(app, user) if user else "", gr.update(visible=user is not None or must_change),
                    ua.first_run_hint(app), gr.update(visible=must_change), *[gr.update(visible=vis[k]) for k in tab_names])

        session_outputs = [login_box, main_box, whoami, logout_btn, first_run, first_pw_box, *tabs]

        def on_login(u, p, request: gr.Request):
            # the peer's address; uvicorn replaces it with X-Forwarded-For only from a configured trusted proxy
            ip = request.client.host if request is not None and request.client else ""
            try:
                tok, _user = ua.login(app, u, p, ip)
            except ua.ERRORS as exc:
                return "", str(exc), gr.update()
            return tok, "", gr.update(value="")

        def refresh_practice(tok, current=""):
            """Module and past-call lists after login or a graded call; the chosen module stays chosen while it is offered."""
            if ua.session_user(app, tok) is None:
                return gr.update(), gr.update(), ""
            choices = h.module_choices(app, tok)
            keep = current if current in [v for _, v in choices] else ""
            return (gr.update(choices=choices, value=keep), gr.update(choices=h.past_calls(app, tok), value=None),
                    ud.next_hint_markdown(app, tok))

        login_ev = login_btn.click(on_login, [username, password], [token, login_msg, password])
        password.submit(on_login, [username, password], [token, login_msg, password]).then(
            show_session, token, session_outputs).then(refresh_practice, token, [module, pick, next_hint])
        login_ev.then(show_session, token, session_outputs).then(refresh_practice, token, [module, pick, next_hint])
        demo.load(show_session, token, session_outputs).then(refresh_practice, token, [module, pick, next_hint])

        def on_logout(tok):
            ua.logout(app, tok)
            return ""
        logout_btn.click(on_logout, token, token).then(show_session, token, session_outputs)

        def on_first_password(tok, now, new, again):
            msg = ua.change_own_password(app, tok, now, new, again)
            return "", msg, "", "", ""
        fp_btn.click(_soft(on_first_password, 5), [token, fp_now, fp_new, fp_again], [fp_msg, login_msg, fp_now, fp_new, fp_again]).then(
            show_session, token, session_outputs)

        # ---------------------------------------------------------------- practice
        def on_module(value, sc, show):
            cid, mod = h.module_of(app, value)
            if mod is None:
                return gr.update(interactive=True), h.brief_markdown(app, sc), gr.update(visible=True)
            return (gr.update(value=mod.scenario, interactive=False), h.brief_markdown(app, mod.scenario, mod.mode),
                    gr.update(visible=mod.mode == "practice"))

        module.change(on_module, [module, scenario, show_mood], [scenario, brief, show_mood]).then(
            lambda value: gr.update(visible=(h.module_of(app, value)[1] is None or h.module_of(app, value)[1].mode == "practice")),
            module, coach_box)

        def on_scenario(sc, value):
            _, mod = h.module_of(app, value)
            return h.brief_markdown(app, sc, mod.mode if mod else "practice")

        scenario.change(on_scenario, [scenario, module], brief)

        def on_start(tok, sc, mod, show):
            cid, hist, meter, mode = h.start_call(app, tok, sc, mod)
            return (cid, hist, meter if show and mode == "practice" else "", gr.update(interactive=True, value=""), gr.update(interactive=True),
                    gr.update(interactive=True), "", gr.update(visible=False), gr.update(visible=False), gr.update(interactive=False),
                    gr.update(interactive=False), gr.update(interactive=False))   # module and scenario stay fixed during the call

        start_outputs = [call_id, chat, mood, msg, send, end, status, result_row, retry_reply, start, module, scenario]
        ev0 = start.click(on_start, [token, scenario, module, show_mood], start_outputs)

        def on_send(tok, cid, text, hist, show):
            """The box is cleared once, when the line is taken, and then left alone: what the trainee types while the
            customer answers stays. Send is off until the reply is complete (Gradio ignores Enter while the event runs)."""
            last = None
            for n, (hist2, meter, info) in enumerate(h.stream_turn(app, tok, cid, text, hist)):
                last = (hist2, meter if show else "", info)
                yield (hist2, last[1], gr.update(value="") if n == 0 and text else gr.update(), gr.update(interactive=False),
                       "_The customer is answering…_", gr.update(visible=False))
            if last is not None:
                hist2, meter, info = last
                done = info["ended"]
                yield (hist2, meter, gr.update(value=text) if info["error"] and text else gr.update(interactive=not done),
                       gr.update(interactive=not done), f"**Problem:** {h.esc(info['error'])}" if info["error"] else "",
                       gr.update(visible=bool(info["error"])))

        send_io = dict(fn=on_send, inputs=[token, call_id, msg, chat, show_mood], outputs=[chat, mood, msg, send, status, retry_reply])
        ev1 = msg.submit(**send_io)
        ev2 = send.click(**send_io)
        def on_retry_reply(tok, cid, hist, show):
            yield from on_send(tok, cid, "", hist, show)
        retry_reply.click(fn=on_retry_reply, inputs=[token, call_id, chat, show_mood], outputs=[chat, mood, msg, send, status, retry_reply])

        def on_end(tok, cid):
            md, frame = h.end_and_grade(app, tok, cid)
            free = app.store.get_call(cid).curriculum_id is None
            return (md, frame, gr.update(visible=True), gr.update(interactive=False), gr.update(interactive=False),
                    gr.update(interactive=False), gr.update(interactive=True), gr.update(interactive=True), gr.update(interactive=free))

        end_outputs = [card, plot, result_row, msg, send, end, start, module, scenario]
        end.click(on_end, [token, call_id], end_outputs).then(refresh_practice, [token, module], [module, pick, next_hint])

        def auto_grade(tok, cid):
            session = app.live.get(cid) if cid else None
            if session is not None and session.ended:
                return on_end(tok, cid)
            return (gr.update(),) * 9

        for ev in (ev1, ev2):
            ev.then(auto_grade, [token, call_id], end_outputs)
        coach.attach(ev0, ev1, ev2, again.click(on_start, [token, scenario, module, show_mood], start_outputs))
        def on_scenario_list():
            return gr.update(choices=h.scenario_choices(app))
        scenario.focus(on_scenario_list, None, scenario)   # picks up newly published content

        # ---------------------------------------------------------------- progress
        def on_progress(tok):
            certs = ud.certificate_choices(app, tok)
            return (ud.what_next_markdown(app, tok), ud.assignments_html(app, tok), ud.progress_html(app, tok),
                    gr.update(choices=certs, value=certs[-1][1] if certs else None), gr.update(visible=not certs),
                    gr.update(visible=bool(certs)))

        progress_tab.select(on_progress, token, [next_md, my_assign, progress_html, cert_pick, cert_none, cert_row])

        def on_cert(tok, code):
            if not code:
                return "", None
            return ud.certificate_file(app, tok, code)

        cert_pick.change(on_cert, [token, cert_pick], [cert_view, cert_file])
        pw_btn.click(_soft(lambda t, a, b, c: ua.change_own_password(app, t, a, b, c), 1), [token, pw_now, pw_new, pw_again], pw_msg)

        # ---------------------------------------------------------------- my calls
        def on_refresh_calls(tok):
            return gr.update(choices=h.past_calls(app, tok), value=None)
        refresh.click(on_refresh_calls, token, pick)
        calls_tab.select(lambda t: gr.update(choices=h.past_calls(app, t)), token, pick)

        def on_pick(tok, cid):
            if not cid:
                return [], "", None
            return h.open_call(app, tok, cid)

        pick.change(on_pick, [token, pick], [past_chat, past_card, past_plot])
        def on_pick_audio(tok, cid):
            user = ua.session_user(app, tok)          # None (logged out) must never mean "trusted" here
            return voice.call_audio_bytes(cid, actor=user) if cid and user else None
        pick.change(on_pick_audio, [token, pick], past_audio)

        # ---------------------------------------------------------------- dashboard
        def lead(tok):
            """The Dashboard's events are for team leads and admins: anyone else is refused before anything is read
            (the dashboard's functions check again, per team and per trainee)."""
            return require_role(h.current_user(app, tok), "lead")

        def on_dash(tok, team_id):
            lead(tok)
            teams = ud.team_choices(app, tok)
            if team_id not in [t[1] for t in teams]:
                team_id = teams[0][1] if teams else None
            if team_id is None:
                return (gr.update(choices=[], value=None), None, None, None, gr.update(choices=[]), gr.update(choices=[]))
            people = ud.trainee_choices(app, tok, team_id)
            return (gr.update(choices=teams, value=team_id), ud.team_table(app, tok, team_id), ud.missed_frame(app, tok, team_id),
                    ud.assignments_table(app, tok, team_id), gr.update(choices=people, value=people[0][1] if people else None),
                    gr.update(choices=people))

        dash_outputs = [team, team_df, missed_plot, assign_df, dash_trainee, assign_who]
        dash_tab.select(on_dash, [token, team], dash_outputs)
        dash_refresh.click(on_dash, [token, team], dash_outputs)
        team.input(on_dash, [token, team], dash_outputs)

        def on_trainee(tok, who):
            lead(tok)
            if not who:
                return None, gr.update(choices=[], value=None), gr.update()
            dims = ud.default_trend_dimensions(app, tok, who)
            calls = h.past_calls(app, tok, who)
            return (ud.trends_frame(app, tok, who, dims), gr.update(choices=calls, value=calls[0][1] if calls else None),
                    gr.update(value=dims))

        dash_trainee.change(on_trainee, [token, dash_trainee], [trend_plot, dash_call, trend_dims])
        def on_trend_dims(tok, who, dims):
            lead(tok)
            return ud.trends_frame(app, tok, who, dims)
        trend_dims.input(on_trend_dims, [token, dash_trainee, trend_dims], trend_plot)

        def on_dash_call(tok, cid):
            lead(tok)
            return on_pick(tok, cid)
        dash_call.change(on_dash_call, [token, dash_call], [dash_chat, dash_card, dash_plot])

        def on_comment(tok, cid, text):
            lead(tok)
            msg_ = ud.add_comment(app, tok, cid, text)
            chat_, card_, plot_ = h.open_call(app, tok, cid)
            return msg_, "", card_

        comment_btn.click(_soft(on_comment, 3), [token, dash_call, comment], [comment_msg, comment, dash_card])

        def on_assign(tok, what, team_id, who, whole, due, note):
            lead(tok)
            out = ud.assign(app, tok, what, team_id, who, whole, due, note)
            return out, ud.assignments_table(app, tok, team_id), ud.team_table(app, tok, team_id)

        assign_btn.click(_soft(on_assign, 3), [token, assign_what, team, assign_who, assign_team, assign_due, assign_note],
                         [assign_msg, assign_df, team_df])
        def on_export(tok, team_id, fmt):
            lead(tok)
            return gr.update(value=ud.export_file(app, tok, fmt, team_id), visible=True)

        def on_export_csv(tok, team_id):
            return on_export(tok, team_id, "csv")

        def on_export_xapi(tok, team_id):
            return on_export(tok, team_id, "xapi")
        exp_csv.click(on_export_csv, [token, team], exp_file)
        exp_xapi.click(on_export_xapi, [token, team], exp_file)

        # ---------------------------------------------------------------- admin
        def admin(tok):
            """The Admin tab's events are for admins only: refused before anything is read or changed."""
            return require_role(h.current_user(app, tok), "admin")

        def on_admin(tok):
            admin(tok)
            teams = ua.team_names(app)
            everyone = ua.usernames(app, tok)
            leads = ua.usernames(app, tok, ("lead", "admin"))
            return (ua.users_frame(app, tok), ua.teams_frame(app, tok), gr.update(choices=[""] + teams), gr.update(choices=everyone),
                    gr.update(choices=[""] + teams), gr.update(choices=leads), gr.update(choices=teams), gr.update(choices=leads))

        admin_outputs = [users_df, teams_df, nu_team, eu_user, eu_team, nt_lead, st_team, st_lead]
        admin_tab.select(on_admin, token, admin_outputs)

        def on_pick_user(tok, name):
            admin(tok)
            if not name:
                return gr.update(), gr.update(), gr.update()
            row = ua.user_row(app, tok, name)
            return row["role"], row["team"], row["active"]

        eu_user.change(on_pick_user, [token, eu_user], [eu_role, eu_team, eu_active])

        def admin_action(fn):
            def run(tok, *args):
                admin(tok)
                text = fn(tok, *args)
                return (text, *on_admin(tok))
            return _soft(run, 1 + len(admin_outputs))

        nu_btn.click(admin_action(lambda t, *a: ua.add_user(app, t, *a)), [token, nu_user, nu_name, nu_role, nu_team, nu_pw],
                     [admin_msg, *admin_outputs])
        eu_btn.click(admin_action(lambda t, *a: ua.change_user(app, t, *a)), [token, eu_user, eu_role, eu_team, eu_active, eu_pw],
                     [admin_msg, *admin_outputs])
        nt_btn.click(admin_action(lambda t, *a: ua.add_team(app, t, *a)), [token, nt_name, nt_lead], [admin_msg, *admin_outputs])
        st_btn.click(admin_action(lambda t, *a: ua.set_lead(app, t, *a)), [token, st_team, st_lead], [admin_msg, *admin_outputs])
    demo.frontline_guarded = guard_events(demo, token, app)     # every event above: a signed-in principal, or refused
    return demo


def ensure_first_admin(app: Frontline) -> None:
    """A new install has no accounts: create an 'admin' with a one-time password and say so, so the first user can get in."""
    if app.accounts.admin_exists():
        return
    import secrets
    password = secrets.token_urlsafe(9)
    app.accounts.create_admin("admin", password, "Administrator", one_time=True)
    bar = "=" * 72
    print(f"{bar}\nNo accounts existed, so an admin was created:\n    username: admin\n    password: {password}\n"
          f"It works once, within 24 hours: signing in asks you to choose your own password. Then add users under Admin.\n"
          f"Lost it? Run: .venv/bin/trainer create-admin --username another-admin\n"
          f"(For a populated demo team: .venv/bin/trainer seed-demo)\n{bar}", flush=True)


def main(host: str | None = None, port: int | None = None) -> None:
    app = Frontline()
    if app.interrupted_on_start:
        print(f"Marked {len(app.interrupted_on_start)} interrupted call(s); they stay viewable under 'My calls'.")
    if app.catalog.problems:
        for p in app.catalog.problems:
            print(f"content problem: {p}")
    ensure_first_admin(app)
    print("Preparing the customer model (first run assembles it once)…")
    app.customer_backend()
    demo = build(app)
    if env_flag("FRONTLINE_PRELOAD", True):
        import threading
        from trainer.voice.service import preload
        print("Loading the customer and speech models in the background (FRONTLINE_PRELOAD=0 to skip)…", flush=True)
        threading.Thread(target=preload, args=(app, demo.frontline_voice), kwargs={"say": lambda m: print(m, flush=True)},
                         daemon=True, name="preload").start()
    # The embedded model answers one reply at a time anyway (one llama.cpp context behind a lock); a remote model
    # (vLLM, OpenAI) serves many calls at once, so the queue must not be the bottleneck.
    limit = 4 if app.settings.customer.backend == "local" else 64
    apply_trusted_proxies(app.settings)     # X-Forwarded-For is believed only from the proxies in FRONTLINE_TRUSTED_PROXIES
    demo.queue(default_concurrency_limit=limit).launch(server_name=host or app.settings.host, server_port=port or app.settings.port,
                                                   **launch_options(app))


def launch_options(app: Frontline) -> dict:
    """How the app is served (the tests launch it the same way): no telemetry, no monitoring page, an upload cap,
    security headers on every response, and downloads served only from the app's private temp folder."""
    from starlette.middleware import Middleware
    return dict(css=CSS, theme=gr.themes.Soft(), footer_links=[], enable_monitoring=False, max_file_size=f"{MAX_UPLOAD_MB}mb",
                allowed_paths=[str(tempfiles.tmp_root(app.settings.home))],
                app_kwargs={"middleware": [Middleware(SecurityHeaders)]})

if __name__ == "__main__":
    main()
