"""The bus's delivery contract (core.bus): floors, FIFO without re-entry, isolation of a failing listener."""

from __future__ import annotations

import asyncio

from kiosk.core.bus import EventBus, Order
from kiosk.core.config import Side
from kiosk.core.conversation import Conversation
from kiosk.core.events import FinalTranscript, Notice, UiAction, UiCommand
from kiosk.screen.scene import SceneState


def test_floors_then_registration_order():
    bus = EventBus()
    seen = []
    bus.listen(lambda e: seen.append("observer"), Order.OBSERVER)
    bus.listen(lambda e: seen.append("view"), Order.VIEW)
    bus.listen(lambda e: seen.append("service-1"), Order.SERVICE)
    bus.listen(lambda e: seen.append("domain"), Order.DOMAIN)
    bus.listen(lambda e: seen.append("service-2"), Order.SERVICE)
    bus.publish(Notice(key="k", text="x"))
    assert seen == ["domain", "service-1", "service-2", "view", "observer"]


def test_follow_up_events_wait_for_the_current_delivery():
    bus = EventBus()
    seen = []

    def service(e):
        seen.append(("service", e.key))
        if e.key == "first":
            bus.publish(Notice(key="follow-up", text=""))

    bus.listen(service, Order.SERVICE)
    bus.listen(lambda e: seen.append(("observer", e.key)), Order.OBSERVER)
    bus.publish(Notice(key="first", text=""))
    # every listener sees "first" before anyone sees the follow-up
    assert seen == [("service", "first"), ("observer", "first"), ("service", "follow-up"), ("observer", "follow-up")]


def test_a_failing_listener_does_not_starve_the_others():
    bus = EventBus()
    seen = []
    bus.listen(lambda e: 1 / 0, Order.DOMAIN)
    bus.listen(seen.append)
    bus.publish(Notice(key="k", text=""))
    assert len(seen) == 1 and bus.listener_errors == 1


def test_subscriptions_get_events_after_listeners_and_drop_when_full():
    async def main():
        bus = EventBus()
        bus.bind(asyncio.get_running_loop())
        sub = bus.subscribe(maxsize=1)
        bus.publish(Notice(key="a", text=""))
        bus.publish(Notice(key="b", text=""))
        assert (await sub.get()).key == "a" and sub.dropped == 1

    asyncio.run(main())


def test_domain_state_is_current_when_the_view_sees_an_event():
    """The screen is a view: the conversation (domain) has already moved when the scene applies an event."""
    bus = EventBus()
    conv = Conversation("zh", "en", customer_languages=("en", "ja", "ko"))
    scene = SceneState("zh", "en", conversation=conv)
    seen = []
    bus.listen(lambda e: seen.append(scene.conversation.customer), Order.VIEW)
    bus.listen(scene.apply, Order.VIEW)
    bus.listen(conv.apply, Order.DOMAIN)
    v = scene.version
    bus.publish(FinalTranscript(side=Side.CUSTOMER, utterance_id="c1", text="口座を開きたいです", language="ja",
                                language_probability=0.97, audio_s=2, asr_s=0.3))
    assert seen == ["ja"] and scene.customer_language == "ja" and scene.version > v
    bus.publish(UiCommand(action=UiAction.ELDERLY, value="on"))
    assert scene.elderly and conv.elderly
