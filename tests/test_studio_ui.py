"""The studio tab builds and its YAML helpers behave (the actions themselves are tested in test_studio_*.py)."""
from __future__ import annotations

import gradio as gr
import pytest

from trainer.llm.fake import FakeLLM
from trainer.service import Frontline
from trainer.ui_studio import _content_id, build_studio_tab

from .conftest import in_character_responder


@pytest.fixture
def app(store, catalog, dana):
    return Frontline(store=store, catalog=catalog, customer_backend=FakeLLM(responder=in_character_responder(dana)), sleep=lambda s: None)


def test_app_has_a_studio_tab_with_both_editors(app):
    import ui
    demo = ui.build(app)
    labels = {getattr(b, "label", None) for b in demo.blocks.values()}
    assert {"Studio", "Personas", "Scenarios", "Open a persona", "Open a scenario", "Good agent", "Rude agent"} <= labels


def test_studio_tab_alone(app):
    with gr.Blocks() as demo:
        studio = build_studio_tab(app, token=gr.State(""))
    assert studio.app is app and any(getattr(b, "label", "") == "Call script (in order)" for b in demo.blocks.values())


def test_content_id_from_yaml():
    assert _content_id("# c\nid: 'dana-x'\nname: x\n") == "dana-x"
    with pytest.raises(ValueError, match="no id"):
        _content_id("name: x\n")
