"""A hands-free voice call in a real browser: the trainee's words (piper speech played into the page's microphone)
stream to the real app, whisper transcribes them, the customer answers out loud, and the call is graded; then a
second call in the same page."""
from __future__ import annotations

import json
import re
import time

import numpy as np

from trainer.store import Store

from ..services import CHROMIUM_ARGS, chromium_path
from .conftest import RunningApp, app_env, seed_users
from .pages import BOT, FAKE_MIC_JS, USER, login_as, speak

LINE = "Good morning, you're through to the billing team, my name is Sam. How can I help you today?"


def test_hands_free_voice_call_in_the_browser(browser, tmp_path, fake_llm, shoot):
    from trainer.voice.audio import resample
    from trainer.voice.tts import PiperTTS
    rate, pcm = PiperTTS().synthesize(LINE)
    clip = resample(pcm.astype(np.float32) / 32768, rate, 48000)
    home = tmp_path / "home"
    home.mkdir()
    seed_users(f"sqlite:///{home / 'frontline.db'}")
    # speech models load at start. The turn ends after 1 s of silence, not 0.5 s: Chromium on the test machine's two
    # busy cores sometimes stalls its audio and the fake microphone then plays silence (seen: the 0.26 s pause after
    # "Good morning," received as over 0.5 s, ending the turn there). The pipeline under test is the same.
    app = RunningApp(home=home, env=app_env(home, fake_llm, FRONTLINE_PRELOAD="1", FRONTLINE_VAD_SILENCE_MS="1000")).start()
    # a browser of its own, that may play sound and start audio without a click (as a trainee's browser does once
    # they have clicked Record), from the same Playwright as the shared one
    voiced = browser.browser_type.launch(executable_path=chromium_path(), headless=True,
                                         args=CHROMIUM_ARGS + ["--autoplay-policy=no-user-gesture-required", "--use-fake-ui-for-media-stream"])
    store = Store(f"sqlite:///{home / 'frontline.db'}")
    try:
        for attempt in (1, 2):
            page = _voice_tab(voiced, app)
            said_s, heard = _spoken_turn(page, app, clip, shoot)
            # every part of the turn arrived, the middle too (it used to be lost while the first phrase was
            # transcribed): the speech stored covers the line, and most words of each third were heard (whisper
            # may mishear a word of speech that went through a busy browser: "billing team" as "building", "today"
            # as "to the day")
            call = store.calls()[0]
            deadline = time.time() + 30
            while time.time() < deadline and len(_segments(store, call.id)) < 2:
                time.sleep(0.2)
            (agent, customer) = _segments(store, call.id)[:2]
            stored_s, shares = agent.end_s - agent.start_s, _heard_by_thirds(LINE, heard)
            if stored_s >= 0.8 * said_s and all(share >= 0.5 for share in shares):
                break
            assert attempt == 1, (heard, shares, stored_s, said_s)
            # Chromium starved of CPU garbles, drops or stalls its audio now and then (with a busy-loop beside it,
            # two runs in five: "how can I help you today" as "happy day"; 3.5 s of a 4.8 s line); the app is not
            # at fault, so the line is said once more, in a new call in a new page
            print(f"heard {heard!r} {shares}, {stored_s:.1f} s of {said_s:.1f} s: saying the line again in a new call")
            page.context.close()
        reply = page.locator(f"{BOT}:visible").last.inner_text()
        assert reply.strip() and reply != "…"                      # the customer's line, shown as text too
        shoot(page, "voice-reply")
        timings = json.loads(customer.timings_json)
        assert timings["voice_to_voice_s"] > 0 and timings["handoff_s"] >= 0
        page.get_by_role("button", name="End call & grade").click()
        page.get_by_text(re.compile(r"Score \d+/100")).first.wait_for(timeout=60_000)
        page.get_by_text("Speech metrics").first.wait_for()
        shoot(page, "voice-scorecard")

        # a second call in the same page: the microphone streams again at the first Record (it streamed nothing
        # when the first call had ended with the recorder still running)
        _spoken_turn(page, app, clip, shoot)
        assert page.locator(f"{USER}:visible").count() == 1       # the new call's transcript, not the old one's
        assert store.calls()[0].id != call.id
    finally:
        store.engine.dispose()
        voiced.close()
        app.stop()


def _voice_tab(voiced, app):
    ctx = voiced.new_context(viewport={"width": 1400, "height": 1000}, permissions=["microphone"])
    ctx.add_init_script(FAKE_MIC_JS)
    page = ctx.new_page()
    page.set_default_timeout(30_000)
    login_as(page, app, "trainee")
    page.get_by_role("tab", name="Voice practice").click()
    page.get_by_label("Scenario").locator("visible=true").click()
    page.get_by_role("option", name="Charged twice").first.click()
    return page


def _spoken_turn(page, app, clip, shoot) -> tuple[float, str]:
    """Start a call, press Record, say the line into the microphone, wait for the reply; the seconds said and
    what was heard."""
    page.get_by_role("button", name="Start voice call").click()
    page.get_by_text("Connected. You speak first.").wait_for()
    page.wait_for_timeout(1000)        # a trainee reads the greeting first
    with page.expect_request(lambda r: "/gradio_api/stream/" in r.url, timeout=10_000):   # the microphone streams
        page.get_by_role("button", name="Record").locator("visible=true").click()
    page.wait_for_timeout(1000)
    said_s = speak(page, clip, 48000)
    try:
        page.get_by_text(re.compile(r"Reply started \d+\.\d s after you stopped")).wait_for(timeout=60_000)
    except Exception:
        shoot(page, "voice-no-reply")
        print(app.output()[-3000:])
        raise
    return said_s, page.locator(f"{USER}:visible").first.inner_text().lower()


def _heard_by_thirds(said: str, heard: str) -> list[float]:
    """For the first, middle and last third of the words said: the share heard, in order."""
    import difflib
    def words(text: str) -> list[str]:
        return re.findall(r"[a-z']+", text.lower())
    a, b = words(said), words(heard)
    matched = [False] * len(a)
    for block in difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks():
        for i in range(block.a, block.a + block.size):
            matched[i] = True
    n = len(a)
    cuts = [0, n // 3, 2 * n // 3, n]
    return [sum(matched[cuts[k]:cuts[k + 1]]) / (cuts[k + 1] - cuts[k]) for k in range(3)]


def _segments(store, call_id):
    from trainer.voice.store import VoiceStore
    return VoiceStore(store).segments(call_id)
