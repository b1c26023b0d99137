"""Teller quick replies and suggestions: the customer sees the bank's reviewed sentence in their language, slots filled
by the teller; the list follows the context, search takes pinyin or keywords; the teller's keys drive the panel."""

from pathlib import Path

import pygame
import pytest

from kiosk.core.bus import EventBus, Order
from kiosk.core.config import Side
from kiosk.core.conversation import Conversation
from kiosk.core.events import (
    QuickReplyView,
    Suggestion,
    TicketIssued,
    Translation,
    TranslationPath,
    UiAction,
    UiCommand,
)
from kiosk.screen.display import Display, quick_reply_key
from kiosk.screen.scene import SceneState
from kiosk.translation.memory import MemoryHolder, load_memory
from kiosk.translation.quickreply import QuickReplies, parse_slot, rank, search

FIXTURE = Path(__file__).parent / "data" / "tm_fixture.toml"


@pytest.fixture(scope="module")
def mem():
    return load_memory(FIXTURE)


@pytest.fixture
def kiosk(mem):
    bus = EventBus()
    conv = Conversation("zh", "ja")
    bus.listen(conv.apply, Order.DOMAIN)
    qr = QuickReplies(MemoryHolder(mem), bus, conv)
    bus.listen(qr.on_event, Order.SERVICE)
    scene = SceneState("zh", "ja", conversation=conv)
    bus.listen(scene.apply, Order.VIEW)
    events = []
    bus.listen(events.append, Order.OBSERVER)
    return bus, qr, scene, events


def sent(events):
    return [e for e in events if isinstance(e, Translation) and e.utterance_id.startswith("qr")]


def test_context_ranks_what_a_teller_says_next(mem):
    first = rank(mem, "zh", "ja", business="cash")[:3]
    assert "fee-open-account-free" not in first  # nothing about fees for a cash customer
    after = rank(mem, "zh", "ja", last_intent="fee-open-account-question")
    assert after[0] == "fee-open-account-free"  # the answer to the customer's question comes first
    assert set(rank(mem, "zh", "ja")) <= {i for i, it in mem.table.intents.items() if it.speaker != "customer"}


@pytest.mark.parametrize("query,expected", [("qianming", "sign-here"), ("qm", "sign-here"), ("签名", "sign-here"),
                                            ("shenfenzheng", "show-id"), ("ID card", "show-id"), ("wait", "wait-about-duration")])
def test_search_by_pinyin_or_keywords(mem, query, expected):
    assert search(mem, "zh", "ja", query)[0] == expected


@pytest.mark.parametrize("stype,typed,value", [("amount", "500 usd", "500 USD"), ("amount", "2万元", "20000 CNY"),
                                               ("ticket", "A023", "A023"), ("number", "3", "3"),
                                               ("duration", "10 min", "10 min"), ("date", "01-05", "01-05"),
                                               ("time", "14:30", "14:30"), ("percent", "3.5", "3.5")])
def test_typed_slot_values(mem, stype, typed, value):
    v, why = parse_slot(mem, stype, typed, "zh")
    assert v is not None and v.normalised == value, why


def test_an_amount_needs_its_currency(mem):
    v, why = parse_slot(mem, "amount", "500", "zh")
    assert v is None and "currency" in why


def test_quick_reply_by_number_key(kiosk):
    bus, qr, scene, events = kiosk
    bus.publish(UiCommand(action=UiAction.QUICK_REPLY, value="open"))
    assert scene.quick_reply is not None and scene.quick_reply.mode == "list"
    for ch in "qm":
        bus.publish(UiCommand(action=UiAction.QUICK_REPLY, value=f"char:{ch}"))
    assert scene.quick_reply.items[0].intent == "sign-here"
    assert scene.quick_reply.items[0].preview == "こちらにご署名をお願いします。"
    bus.publish(UiCommand(action=UiAction.QUICK_REPLY, value="pick:1"))
    out = sent(events)
    assert len(out) == 1 and out[0].text == "こちらにご署名をお願いします。" and out[0].source_text == "请在这里签名。"
    assert out[0].path is TranslationPath.PHRASE_MEMORY and out[0].verified and out[0].target_language == "ja"
    assert scene.quick_reply is None  # the panel closes once sent
    assert scene.captions[out[0].utterance_id].translation == "こちらにご署名をお願いします。"


def test_quick_reply_with_slots_filled_by_the_teller(kiosk):
    bus, qr, scene, events = kiosk
    bus.publish(UiCommand(action=UiAction.QUICK_REPLY, value="open"))
    for ch in "chuangkou":
        bus.publish(UiCommand(action=UiAction.QUICK_REPLY, value=f"char:{ch}"))
    bus.publish(UiCommand(action=UiAction.QUICK_REPLY, value="pick:1"))
    assert scene.quick_reply.mode == "slot" and scene.quick_reply.prompt.startswith("ticket")
    for ch in "A023":
        bus.publish(UiCommand(action=UiAction.QUICK_REPLY, value=f"char:{ch}"))
    bus.publish(UiCommand(action=UiAction.QUICK_REPLY, value="enter"))
    for ch in "x":
        bus.publish(UiCommand(action=UiAction.QUICK_REPLY, value=f"char:{ch}"))
    bus.publish(UiCommand(action=UiAction.QUICK_REPLY, value="enter"))
    assert scene.quick_reply.error and not sent(events)  # "x" is not a counter number: nothing sent
    bus.publish(UiCommand(action=UiAction.QUICK_REPLY, value="back"))
    bus.publish(UiCommand(action=UiAction.QUICK_REPLY, value="char:3"))
    bus.publish(UiCommand(action=UiAction.QUICK_REPLY, value="enter"))
    out = sent(events)
    assert [e.text for e in out] == ["A023番の方、3番窓口へお越しください。"]
    assert out[0].source_text == "请A023号到3号窗口办理。"


def test_suggestions_send_with_one_key(kiosk):
    bus, qr, scene, events = kiosk
    bus.publish(TicketIssued(number="A001", business="cash", language="ja"))
    bus.publish(Translation(side=Side.TELLER, utterance_id="t1", source_language="zh", target_language="ja",
                            source_text="请给我看一下你的护照", text=None, path=TranslationPath.NONE,
                            untranslated=("请给我看一下你的护照",), suggestions=(Suggestion("show-id", "请出示您的身份证。"),)))
    assert scene.suggestions and scene.suggestions[0].intent == "show-id"
    bus.publish(UiCommand(action=UiAction.SUGGESTION, value="1"))
    assert [e.text for e in sent(events)] == ["身分証明書をご提示ください。"]
    bus.publish(UiCommand(action=UiAction.CLEAR))
    assert scene.suggestions == ()


def test_customer_intent_sets_the_context(kiosk):
    bus, qr, scene, events = kiosk
    bus.publish(Translation(side=Side.CUSTOMER, utterance_id="c1", source_language="ja", target_language="zh",
                            source_text="口座開設に手数料はかかりますか", text="开户要收手续费吗？",
                            path=TranslationPath.PHRASE_MEMORY, intents=("fee-open-account-question",)))
    bus.publish(UiCommand(action=UiAction.QUICK_REPLY, value="open"))
    assert scene.quick_reply.items[0].intent == "fee-open-account-free"
    assert "fee-open-account-question" in scene.quick_reply.context
    bus.publish(UiCommand(action=UiAction.QUICK_REPLY, value="close"))
    assert scene.quick_reply is None and not sent(events)


def test_teller_keys_switch_into_the_panel(renderer):
    pygame.display.init()
    state = SceneState("zh", "ja")
    display = Display(renderer, state)
    display.open()
    try:
        pygame.event.clear()
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_1, mod=0, unicode="1", scancode=0))
        assert [c.action for c in display.pump()] == [UiAction.TICKET]  # outside the panel: a walk-in ticket
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_q, mod=0, unicode="q", scancode=0))
        assert [(c.action, c.value) for c in display.pump()] == [(UiAction.QUICK_REPLY, "open")]
        state.apply(QuickReplyView(mode="list"))
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_1, mod=0, unicode="1", scancode=0))
        pygame.event.post(pygame.event.Event(pygame.TEXTINPUT, text="1"))
        pygame.event.post(pygame.event.Event(pygame.TEXTINPUT, text="k"))
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE, mod=0, unicode="", scancode=0))
        assert [c.value for c in display.pump()] == ["pick:1", "char:k", "close"]  # Esc closes, never quits here
        state.apply(QuickReplyView(mode="slot"))
        ev = pygame.event.Event(pygame.TEXTINPUT, text="5")
        assert quick_reply_key(ev, "slot") == "char:5"
        frame = renderer.render(state, 0.0)  # the panel draws
        assert frame.get_size() == renderer.output_size
    finally:
        display.close()
