"""The staged speech path with fake recogniser and translator: scheduler policy (pure and live), the translation
stage's independence, and the event sequences of whole conversations through the real stages (syrupy snapshots).
Fast and deterministic: no models, no sleeps, decodes run inline on the loop."""

from __future__ import annotations

import asyncio
from collections import deque

import numpy as np
import pytest

from kiosk.core.bus import EventBus, Order
from kiosk.core.config import Side, load_config
from kiosk.core.conversation import Conversation
from kiosk.core.events import (
    Event,
    FinalTranscript,
    Translation,
)
from kiosk.speech.path import SpeechPath
from kiosk.speech.scheduler import Dropped, InferenceScheduler, Job, JobKind, pick
from kiosk.translation.router import TranslationRouter
from kiosk.translation.stage import TranslationStage

from . import fakes
from .fakes import FakeRecogniser, FakeTranslator, Line, ScriptedSource, timeline, tone

CFG = load_config().config


def drive(cfg, recogniser, sources, *, translate_run=fakes.inline, on_bus=None) -> list[Event]:
    """The real stages — segmenting, scheduler, recognition, translation stage — on fake sources, recogniser and
    translator, wired as the app wires them; returns every event in bus order."""

    async def main():
        bus = EventBus()
        bus.bind(asyncio.get_running_loop())
        conv = Conversation.from_config(cfg)
        bus.listen(conv.apply, Order.DOMAIN)
        events: list[Event] = []
        bus.listen(events.append)
        if on_bus is not None:
            on_bus(bus)
        stage = TranslationStage.from_config(cfg, TranslationRouter([FakeTranslator()]), bus, conv, run=translate_run,
                                             clock=lambda: 0.0)
        path = SpeechPath(cfg, bus, recogniser, fakes.scorer_factory, conv, run=fakes.inline,
                          on_final=stage.submit_final, on_committed=stage.submit_committed,
                          on_speculative=stage.submit_speculative)
        serving = asyncio.create_task(stage.serve())
        await path.run(sources)
        await stage.drain()
        stage.close()
        await serving
        await path.close()
        return events

    return asyncio.run(asyncio.wait_for(main(), 30))


# ---- the scheduler's policy, pure -------------------------------------------------------------------------------
def job(kind, side, seq):
    return Job(kind, side, np.zeros(1, np.float32), ("en",), seq=seq)


def test_pick_serves_finals_before_translations_before_partials():
    q = {(JobKind.PARTIAL, Side.TELLER): deque([job(JobKind.PARTIAL, Side.TELLER, 0)]),
         (JobKind.SPEECH_TRANSLATION, Side.CUSTOMER): deque([job(JobKind.SPEECH_TRANSLATION, Side.CUSTOMER, 1)]),
         (JobKind.FINAL, Side.CUSTOMER): deque([job(JobKind.FINAL, Side.CUSTOMER, 2)])}
    last: dict = {}
    assert [pick(q, last).kind for _ in range(3)] == [JobKind.FINAL, JobKind.SPEECH_TRANSLATION, JobKind.PARTIAL]
    assert pick(q, last) is None


def test_pick_takes_the_sides_in_turn_and_each_side_in_order():
    q = {(JobKind.FINAL, Side.TELLER): deque(job(JobKind.FINAL, Side.TELLER, i) for i in (0, 1, 2)),
         (JobKind.FINAL, Side.CUSTOMER): deque(job(JobKind.FINAL, Side.CUSTOMER, i) for i in (3, 4))}
    last: dict = {}
    order = [(j.side, j.seq) for j in iter(lambda: pick(q, last), None)]
    assert order == [(Side.TELLER, 0), (Side.CUSTOMER, 3), (Side.TELLER, 1), (Side.CUSTOMER, 4), (Side.TELLER, 2)]


def test_pick_holds_partials_while_a_speaker_pauses():
    q = {(JobKind.PARTIAL, Side.TELLER): deque([job(JobKind.PARTIAL, Side.TELLER, 0)])}
    assert pick(q, {}, hold_partials=True) is None  # the recogniser stays free for the final that may come
    assert pick(q, {}, hold_partials=False).kind is JobKind.PARTIAL


class Gate:
    """A runner that holds each decode until the test releases it."""

    def __init__(self) -> None:
        self.waiting: asyncio.Queue[asyncio.Future] = asyncio.Queue()

    async def __call__(self, fn):
        fut = asyncio.get_running_loop().create_future()
        await self.waiting.put(fut)
        await fut
        return fn()

    async def release(self, n: int = 1) -> None:
        for _ in range(n):
            (await asyncio.wait_for(self.waiting.get(), 5)).set_result(None)


def test_scheduler_bounds_finals_and_supersedes_partials():
    lines = [Line(f"line {k}", "en") for k in range(12)]
    rec = FakeRecogniser(lines)

    async def main():
        gate = Gate()
        s = InferenceScheduler(rec, max_finals=2, run=gate)
        serving = asyncio.create_task(s.serve())
        first = asyncio.create_task(s.final(Side.TELLER, tone(0, 2), ["en"]))
        await asyncio.sleep(0)
        await asyncio.sleep(0)  # the worker took it and waits at the gate
        assert s.busy and s.current.kind is JobKind.FINAL
        p1 = asyncio.create_task(s.partial(Side.CUSTOMER, tone(1, 1), ["en"], _partial()))
        p2 = asyncio.create_task(s.partial(Side.CUSTOMER, tone(2, 1), ["en"], _partial()))
        waiting = [asyncio.create_task(s.final(Side.TELLER, tone(k, 2), ["en"])) for k in (3, 4, 5)]
        await asyncio.sleep(0)
        assert await p1 is None  # a newer partial of the same side replaced it
        with pytest.raises(Dropped):  # three finals waiting, room for two: the oldest waiting one is dropped
            await waiting[0]
        await gate.release(4)
        assert (await first).text == "line 0"
        assert [(await w).text for w in waiting[1:]] == ["line 4", "line 5"]
        assert (await p2).text == "line"  # partials after every final
        s.close()
        await serving
        return s

    s = asyncio.run(asyncio.wait_for(main(), 10))
    assert s.counters[("partial", "superseded")] == 1 and s.counters[("final", "dropped-backlog")] == 1
    assert s.counters[("final", "served")] == 3 and s.counters[("partial", "served")] == 1
    assert [c for c in rec.calls] == [("final", 0), ("final", 4), ("final", 5), ("partial", 2)]


def _partial():
    from kiosk.speech.asr import DecodeOptions

    return DecodeOptions(context_s=10.0)


def test_a_final_supersedes_its_sides_waiting_partial():
    rec = FakeRecogniser([Line("hello there", "en")])

    async def main():
        gate = Gate()
        s = InferenceScheduler(rec, run=gate)
        serving = asyncio.create_task(s.serve())
        other = asyncio.create_task(s.final(Side.CUSTOMER, tone(0, 2), ["en"]))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        p = asyncio.create_task(s.partial(Side.TELLER, tone(0, 1), ["en"], _partial()))
        f = asyncio.create_task(s.final(Side.TELLER, tone(0, 2), ["en"]))
        await asyncio.sleep(0)
        assert await p is None
        await gate.release(2)
        await other, await f
        s.close()
        await serving

    asyncio.run(asyncio.wait_for(main(), 10))
    assert rec.calls == [("final", 0), ("final", 0)]


# ---- the translation stage never delays recognition ------------------------------------------------------------
def test_a_slow_translation_does_not_delay_the_next_final():
    """Two utterances from one side; the first translation is held: the second final is still published."""
    lines = [Line("Good morning.", "en"), Line("I would like to open an account.", "en")]
    audio = timeline((0.5, tone(0, 4)), (3.0, tone(1, 7)), length_s=6.0)
    cfg = CFG.model_copy(update={"asr": CFG.asr.model_copy(update={"partials": False, "speculative_pause_s": 0.0}),
                                 "languages": CFG.languages.model_copy(update={"customer_default": "en"})})
    held: list[asyncio.Event] = []

    async def slow(fn):  # the translator is stuck until the second final has been published
        await held[0].wait()
        return fn()

    def hold_until_second_final(bus) -> None:
        held.append(asyncio.Event())
        bus.listen(lambda ev: held[0].set() if isinstance(ev, FinalTranscript) and ev.text == lines[1].text else None)

    events = drive(cfg, FakeRecogniser(lines), [ScriptedSource(Side.CUSTOMER, audio)], translate_run=slow,
                   on_bus=hold_until_second_final)
    kinds = [(type(e).__name__, getattr(e, "text", None)) for e in events
             if isinstance(e, (FinalTranscript, Translation))]
    assert kinds == [("FinalTranscript", "Good morning."), ("FinalTranscript", "I would like to open an account."),
                     ("Translation", "<zh> Good morning."), ("Translation", "<zh> I would like to open an account.")]


# ---- whole conversations through the real stages: event sequences ---------------------------------------------
SCRIPT = [
    Line("您好 请问 办理 什么 业务", "zh"),  # 0 teller
    Line("I would like to open an account", "en"),  # 1 customer
    Line("请 出示 您的 身份证", "zh"),  # 2 teller
    Line("Here it is", "en"),  # 3 customer
    Line("Thank you for watching!", "en"),  # 4 a classic silence hallucination
    Line("Is there a fee", "en"),  # 5 customer, overlapping the teller
    Line("开户 免费", "zh"),  # 6 teller
]


def conversation(name: str) -> tuple[np.ndarray, np.ndarray, set[int]]:
    """(teller audio, customer audio, lines whose decode fails) for a named scenario."""
    if name == "turns":
        teller = timeline((0.5, tone(0, 5)), (6.0, tone(2, 4)), length_s=12)
        customer = timeline((3.0, tone(1, 7)), (9.0, tone(3, 3)), length_s=12)
        return teller, customer, set()
    if name == "overlap-bleed-guard-failure":
        # the teller and the customer speak at once; the customer's mic hears the teller's next line 10 dB down;
        # a noise-like burst is recognised as a silence phrase; one decode raises
        teller = timeline((0.5, tone(6, 4)), (4.0, tone(2, 4)), length_s=12)
        customer = timeline((0.6, tone(5, 4)), (4.0, tone(2, 4, gain=0.3)), (7.0, tone(4, 4)), (9.5, tone(3, 3)),
                            length_s=12)
        return teller, customer, {3}
    raise KeyError(name)


def run_conversation(name: str, *, partials: bool) -> list[dict]:
    teller_audio, customer_audio, failing = conversation(name)
    cfg = CFG.model_copy(update={"asr": CFG.asr.model_copy(update={"partials": partials, "partial_interval_s": 0.5}),
                                 "translation": CFG.translation.model_copy(update={"partial_interval_s": 0.0})})

    events = drive(cfg, FakeRecogniser(SCRIPT, fail_on=failing),
                   [ScriptedSource(Side.TELLER, teller_audio), ScriptedSource(Side.CUSTOMER, customer_audio)])
    return [record(e) for e in events]


def record(e: Event) -> dict:
    d = e.to_dict()
    d.pop("t")
    d.pop("mt_s", None)  # the router's real elapsed time (the guard runs on every path): not a snapshot value
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in d.items()}


@pytest.mark.parametrize("name", ["turns", "overlap-bleed-guard-failure"])
@pytest.mark.parametrize("partials", [False, True], ids=["finals", "with-partials"])
def test_conversation_event_sequence(name, partials, snapshot):
    events = run_conversation(name, partials=partials)
    assert events == snapshot
    # properties that hold whatever the snapshot says
    finals = [e for e in events if e["type"] == "final-transcript"]
    for f in finals:  # every final is translated exactly once, after it
        i = events.index(f)
        done = [e for e in events[i:] if e["type"] == "translation" and not e["partial"]
                and e["utterance_id"] == f["utterance_id"]]
        assert len(done) == 1
    for e in events:  # nothing partial comes after its final
        if e["type"] in ("partial-transcript", "translation") and e.get("partial", True) and e["type"] != "final-transcript":
            later = [f for f in finals if f["utterance_id"] == e["utterance_id"]]
            assert not later or events.index(later[0]) > events.index(e)
    ended = {e["utterance_id"] for e in events if e["type"] == "speech-ended"}
    accounted = {e["utterance_id"] for e in events if e["type"] in ("final-transcript", "utterance-dropped")}
    assert ended == accounted  # every utterance gets a caption or a stated reason


def test_dropped_utterances_say_why():
    events = run_conversation("overlap-bleed-guard-failure", partials=False)
    drops = {e["reason"] for e in events if e["type"] == "utterance-dropped"}
    assert drops == {"bleed", "silence-phrase", "failed"}
    assert any(e["type"] == "error" and e["stage"] == "asr" for e in events)
    texts = [e["text"] for e in events if e["type"] == "final-transcript"]
    assert "Thank you for watching!" not in texts and "Here it is" not in texts


# ---- speculative finalisation -------------------------------------------------------------------------------------
def run_one_side(audio: np.ndarray, lines, cfg=CFG) -> tuple[list[Event], FakeRecogniser]:
    cfg = cfg.model_copy(update={"asr": cfg.asr.model_copy(update={"partials": False})})
    rec = FakeRecogniser(lines)
    return drive(cfg, rec, [ScriptedSource(Side.CUSTOMER, audio)]), rec


def test_speculation_at_the_end_of_speech_is_the_final_without_a_second_decode():
    lines = [Line("I would like to withdraw money please", "en")]
    events, rec = run_one_side(timeline((0.5, tone(0, 7)), length_s=4.0), lines)
    finals = [e for e in events if isinstance(e, FinalTranscript)]
    assert [(f.text, f.speculated) for f in finals] == [(lines[0].text, True)]
    assert [c[0] for c in rec.calls] == ["final"]  # one decode of the whole utterance, at the pause
    shown = [e for e in events if isinstance(e, Translation)]
    # the translation is on the glass before the end of speech is confirmed, and the final one does not change it
    assert [(t.speculative, t.partial) for t in shown] == [(True, True), (False, False)]
    assert shown[0].text == shown[1].text
    ended = next(e for e in events if type(e).__name__ == "SpeechEnded")
    assert events.index(shown[0]) < events.index(ended)


def test_speech_resuming_after_a_pause_revises_without_duplicates():
    lines = [Line("I would like to withdraw money please", "en")]
    # three words, a 0.35 s pause (longer than the 0.25 s speculative pause, shorter than the end of speech), four more
    audio = timeline((0.5, tone(0, 3)), (0.5 + 0.75 + 0.35, tone(0, 4)), length_s=5.0)
    events, rec = run_one_side(audio, lines)
    uids = {getattr(e, "utterance_id", None) for e in events} - {None}
    assert len(uids) == 1  # one utterance: the pause did not split it
    finals = [e for e in events if isinstance(e, FinalTranscript)]
    assert [(f.text, f.speculated) for f in finals] == [(lines[0].text, True)]
    spec = [e.text for e in events if type(e).__name__ == "PartialTranscript" and e.speculative]
    assert spec == ["I would like", lines[0].text]  # shown at the first pause, then revised in place
    final_tr = [e for e in events if isinstance(e, Translation) and not e.partial]
    assert len(final_tr) == 1 and final_tr[0].text == f"<zh> {lines[0].text}"


def test_a_stale_speculation_is_never_the_final():
    """Speech resumes after the pause and the input ends mid-word: the final is decoded again, whole."""
    lines = [Line("I would like to withdraw money please", "en")]
    audio = np.concatenate([timeline((0.5, tone(0, 3)), length_s=1.6), tone(0, 4)])  # ends while speaking
    events, rec = run_one_side(audio, lines)
    finals = [e for e in events if isinstance(e, FinalTranscript)]
    assert [(f.text, f.speculated) for f in finals] == [(lines[0].text, False)]
    assert [c[0] for c in rec.calls] == ["final", "final"]  # the speculation, then the whole utterance


def test_speculation_can_be_switched_off():
    lines = [Line("I would like to withdraw money please", "en")]
    cfg = CFG.model_copy(update={"asr": CFG.asr.model_copy(update={"speculative_pause_s": 0.0})})
    events, rec = run_one_side(timeline((0.5, tone(0, 7)), length_s=4.0), lines, cfg)
    assert [(f.text, f.speculated) for f in events if isinstance(f, FinalTranscript)] == [(lines[0].text, False)]
    assert not any(isinstance(e, Translation) and e.partial for e in events)


@pytest.mark.parametrize("speed", [1.0, 2.0, 0.5])
def test_bleed_and_latency_stamps_hold_at_any_replay_speed(speed):
    """Files replayed faster or slower than speaking pace (the demo at --speed 2, the soak) keep the capture clock
    and the stream clock apart: bleed is still decided on the same stretch of time, and the last word's capture time
    is where the speech really ended."""
    lines = [Line("please show me your ID card", "en")]
    teller = timeline((0.5, tone(0, 6)), length_s=4.0)
    customer = timeline((0.5, tone(0, 6, gain=0.2)), length_s=4.0)  # the teller, heard 14 dB down
    cfg = CFG.model_copy(update={"asr": CFG.asr.model_copy(update={"partials": False})})
    events = drive(cfg, FakeRecogniser(lines), [ScriptedSource(Side.TELLER, teller, speed),
                                                ScriptedSource(Side.CUSTOMER, customer, speed)])
    finals = [(e.side, e.text) for e in events if isinstance(e, FinalTranscript)]
    assert finals == [(Side.TELLER, lines[0].text)]
    assert [e.reason for e in events if type(e).__name__ == "UtteranceDropped"] == ["bleed"]
    ended = next(e for e in events if type(e).__name__ == "SpeechEnded" and e.side is Side.TELLER)
    started = next(e for e in events if type(e).__name__ == "SpeechStarted" and e.side is Side.TELLER)
    assert ended.speech_end_t == pytest.approx(1000.0 + 2.0 / speed, abs=0.07)  # speech ran from 0.5 s to 2.0 s
    assert started.capture_t == pytest.approx(1000.0 + 0.5 / speed, abs=0.07)
