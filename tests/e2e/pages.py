"""What a user does in the app, as small functions over a Playwright page (one place to change when
the UI changes)."""
from __future__ import annotations

import time

USER = "[data-testid='user']"
BOT = "[data-testid='bot']"


def login_as(page, app, who: str) -> None:
    """Open the app and sign in as one of the seeded users (tests/e2e/conftest.py USERS)."""
    from .conftest import USERS
    username, password = USERS[who][:2]
    page.goto(app.url)
    page.locator("text=Sign in >> visible=true").or_(page.get_by_role("button", name="Log out")).first.wait_for()
    page.wait_for_timeout(1500)      # the page's load event restores a stored session, if any, and swaps the form out
    if page.get_by_role("button", name="Log out").is_visible():     # still signed in: sessions survive an app restart
        assert f"({USERS[who][2]}" in page.locator("#whoami").inner_text()    # … as a user of the expected role
        return
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Log out").wait_for()


def pick_scenario(page, label_part: str) -> None:
    page.get_by_label("Scenario").click()
    page.get_by_role("option", name=label_part).first.click()


def start_call(page, scenario_label: str) -> None:
    pick_scenario(page, scenario_label)
    page.get_by_text("CRM card").wait_for()
    page.get_by_role("button", name="Start call").click()
    page.get_by_text("is on the line").wait_for()
    wait_enabled(page, "Send")


def wait_enabled(page, button: str, timeout: float = 20.0) -> None:
    btn = page.get_by_role("button", name=button, exact=True)
    deadline = time.monotonic() + timeout
    while not btn.is_enabled():
        if time.monotonic() > deadline:
            raise TimeoutError(f"button {button!r} stayed disabled")
        page.wait_for_timeout(100)


def say(page, text: str, *, expect_reply: bool = True, timeout: float = 30.0) -> str:
    """Type a line as the agent and press Enter; return the customer's reply (or the warning shown)."""
    bots_before = page.locator(BOT).count()
    box = page.get_by_label("You (the agent)")
    box.fill(text)
    box.press("Enter")
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        page.wait_for_timeout(100)
        warning = page.get_by_text("The customer could not answer")
        if warning.count():
            if expect_reply:
                raise AssertionError("the customer model did not answer: " + warning.first.inner_text())
            return warning.first.inner_text()
        if page.locator(BOT).count() > bots_before and box.input_value() == "":
            shown = page.locator(BOT).nth(bots_before).inner_text().strip()
            if shown != last:                    # still streaming (or regenerating): wait until it settles
                last, since = shown, time.monotonic()
            elif shown and shown != "…" and time.monotonic() - since > 0.7 and page.get_by_role("button", name="Send", exact=True).is_enabled():
                return shown
    raise TimeoutError(f"no reply to {text[:60]!r} within {timeout:.0f}s")


def end_call(page) -> str:
    page.get_by_role("button", name="End call & grade").click()
    heading = page.get_by_role("heading", name="Score")
    heading.first.wait_for(timeout=30_000)
    return heading.first.inner_text()


def open_past_call(page) -> None:
    """My calls: the newest call of the signed-in user."""
    page.get_by_role("tab", name="My calls").click()
    deadline = time.monotonic() + 20
    while True:    # the list arrives from the server: refresh and reopen until it is there
        page.get_by_role("button", name="Refresh").first.click()
        page.wait_for_timeout(400)
        page.get_by_label("Past calls").click()
        option = page.get_by_role("option")
        try:
            option.first.wait_for(timeout=1_000)
            option.first.click()
            return
        except Exception:  # noqa: BLE001
            if time.monotonic() > deadline:
                raise TimeoutError("no past calls listed") from None
            page.keyboard.press("Escape")


# A microphone the test speaks into: getUserMedia answers with a Web Audio stream, and speak() plays a clip into it,
# so the app hears a trainee who talks, then waits for the customer, as a person does (Chromium's own fake device
# loops one file from page load, whatever the page is doing).
FAKE_MIC_JS = """(() => {
  // every getUserMedia gets a stream of its own (the page stops a stream's tracks when it is done with it, as
  // with a real microphone), all fed from one bus that __speak plays into
  const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (c) => {
    if (!c || !c.audio) return real(c);
    if (!window.__mic) {
      const ctx = new AudioContext({sampleRate: 48000});
      const bus = ctx.createGain();
      const hush = ctx.createConstantSource(); hush.offset.value = 0; hush.connect(bus); hush.start();
      window.__mic = {ctx, bus};
    }
    const dest = window.__mic.ctx.createMediaStreamDestination();
    window.__mic.bus.connect(dest);
    await window.__mic.ctx.resume();
    return dest.stream;
  };
  window.__speak = async (url) => {
    const {ctx, bus} = window.__mic;
    const clip = ctx.createBufferSource();
    clip.buffer = await ctx.decodeAudioData(await (await fetch(url)).arrayBuffer());
    clip.connect(bus); clip.start();
    return clip.buffer.duration;
  };
})();"""


def speak(page, samples, rate: int) -> float:
    """Play float samples into the page's fake microphone (FAKE_MIC_JS must be installed); returns the seconds."""
    import base64

    from trainer.voice.audio import wav_bytes
    url = "data:audio/wav;base64," + base64.b64encode(wav_bytes(samples, rate)).decode()
    return page.evaluate("url => window.__speak(url)", url)
