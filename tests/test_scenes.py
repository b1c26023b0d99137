"""What people see: golden images of every scene, no overflow in any language, elderly mode, tickets, input.

Golden images are compared tolerantly; regenerate them after an intended change with
    KIOSK_UPDATE_GOLDEN=1 make test
and look at the PNGs in tests/golden/ before committing them."""

import os
from pathlib import Path

import numpy as np
import pygame
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.core.config import Side, load_config
from kiosk.branch.devices import is_elderly
from kiosk.screen.display import Display, Renderer
from kiosk.core.events import FinalTranscript, Translation, TranslationPath, UiAction, UiCommand
from kiosk.screen.samples import SCENES, sample_scene
from kiosk.screen.scene import SceneState

from .test_display import arr, find_line, line_image


def feed(state, ev):
    """What the bus does (core.bus): the conversation, domain state, first; then the screen state, a view."""
    state.conversation.apply(ev)
    state.apply(ev)


GOLDEN = Path(__file__).parent / "golden"
CFG = load_config().config
SMALL = CFG.display.model_copy(update={"width": 960, "height": 540})


@pytest.fixture(scope="module")
def fonts():
    return Renderer(SMALL, CFG.privacy).fonts


def render_sample(name, fonts):
    state, now, overrides = sample_scene(name, CFG)
    r = Renderer(SMALL.model_copy(update=overrides), CFG.privacy, fonts=fonts)
    return r, state, r.render(state, now)


@pytest.mark.parametrize("name", SCENES)
def test_golden_scene(name, fonts, tmp_path):
    _, _, surface = render_sample(name, fonts)
    path = GOLDEN / f"{name}.png"
    if os.environ.get("KIOSK_UPDATE_GOLDEN") or not path.exists():
        GOLDEN.mkdir(exist_ok=True)
        pygame.image.save(surface, str(path))
        if not os.environ.get("KIOSK_UPDATE_GOLDEN"):
            pytest.fail(f"no golden image yet: wrote {path}, look at it and commit it")
    got, want = arr(surface), arr(pygame.image.load(str(path)))
    assert got.shape == want.shape
    diff = np.abs(got - want).max(axis=2)
    # tolerant: anti-aliasing may differ by a few levels; a moved or missing word changes many pixels
    if (diff > 48).mean() > 0.002 or diff.mean() > 1.5:
        pygame.image.save(surface, str(tmp_path / f"{name}-got.png"))
        pytest.fail(f"{name}: {(diff > 48).mean():.2%} pixels differ (got image in {tmp_path})")


def test_scenes_differ_from_each_other(fonts):
    frames = {name: arr(render_sample(name, fonts)[2]) for name in SCENES}
    for a in SCENES:
        assert frames[a].sum() > 0, a
        for b in SCENES:
            if a < b:
                assert not np.array_equal(frames[a], frames[b]), (a, b)


def test_ticket_number_is_shown_large_to_the_customer(fonts):
    r, state, surface = render_sample("ticket", fonts)
    zone = r.zones()[Side.CUSTOMER]
    customer = arr(surface)[zone.top : zone.bottom, zone.left : zone.right][:, ::-1]
    big = line_image(r, "A017", r._px(200), (240, 240, 240), "en")
    assert big.shape[0] > 2.5 * r.fonts.line_height(r._px(52))  # far larger than caption text
    assert find_line(customer, big, (zone.width - big.shape[1]) // 2) is not None  # centred, readable
    # the ticket never hides the conversation: the captions stay on the customer's half below the card
    assert state.scene(1000.0) == "conversation" and state.ticket_view(1000.0) == "card"
    assert state.ticket_view(1000.0 + 60) is None
    last = state.for_reader(Side.CUSTOMER)[-1]  # the customer's own last words, small, under the card
    assert last.side is Side.CUSTOMER
    assert find_line(customer, line_image(r, last.text, r._px(30), (125, 125, 125), "ja"), r._px(36)) is not None


def test_ticket_yields_to_the_next_caption(fonts):
    """A caption newer than the ticket turns the card into a one-line band; the new caption is visible."""
    r, state, surface = render_sample("ticket-band", fonts)
    assert state.ticket_view(1000.0) == "band"
    zone = r.zones()[Side.CUSTOMER]
    customer = arr(surface)[zone.top : zone.bottom, zone.left : zone.right][:, ::-1]
    newest = state.for_reader(Side.CUSTOMER)[-1]
    assert newest.side is Side.TELLER
    wrapped = r._wrap(newest.translation, r._px(52), "ja", zone.width - 2 * r._px(36))
    assert find_line(customer, line_image(r, wrapped[0], r._px(52), (240, 240, 240), "ja"), r._px(36)) is not None
    big = line_image(r, "A017", r._px(200), (240, 240, 240), "en")
    assert find_line(customer, big, (zone.width - big.shape[1]) // 2) is None  # no longer the big card
    teller = arr(surface)[zone.top : zone.bottom, r.zones()[Side.TELLER].left : r.zones()[Side.TELLER].right]
    assert teller.sum() > 0 and any("A017" in n for n in state.notices.values())  # the teller keeps the detail


SAMPLES = {
    "zh": "请您在这里签名并确认金额无误",
    "ja": "口座を開設するには身分証明書が必要です",
    "ko": "계좌를 개설하려면 신분증이 필요합니다",
    "en": "To open an account you need your identity card and a phone number",
    "ru": "Для открытия счёта нужен паспорт и номер телефона",
    "ar": "لفتح حساب تحتاج إلى بطاقة الهوية ورقم الهاتف",
    "de": "Für die Kontoeröffnung brauchen Sie Ihren Ausweis",
}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lang=st.sampled_from(sorted(SAMPLES)), repeat=st.integers(1, 40), elderly=st.booleans())
def test_no_overflow_in_any_language(fonts, lang, repeat, elderly):
    text = " ".join([SAMPLES[lang]] * repeat) if lang not in ("zh", "ja") else SAMPLES[lang] * repeat
    r = Renderer(SMALL, CFG.privacy, fonts=fonts)
    s = SceneState("en", lang, elderly=elderly)
    feed(s, FinalTranscript(side=Side.TELLER, utterance_id="t1", text="Please sign here.", language="en",
                            language_probability=1, audio_s=1, asr_s=0.1))
    feed(s, Translation(side=Side.TELLER, utterance_id="t1", source_language="en", target_language=lang,
                        source_text="Please sign here.", text=text, path=TranslationPath.NMT))
    frame = arr(r.render(s))
    for side, zone in r.zones().items():
        z = frame[zone.top : zone.bottom, zone.left : zone.right]
        edge = 3
        assert z[:, :edge].sum() == 0 and z[:, -edge:].sum() == 0 and z[-edge:, :].sum() == 0, (side, lang, repeat)


def test_elderly_mode_is_large_high_contrast_and_brief(fonts):
    r = Renderer(SMALL, CFG.privacy, fonts=fonts)
    state, now, _ = sample_scene("conversation", CFG)
    normal = arr(r.render(state, now))
    feed(state, UiCommand(action=UiAction.ELDERLY))
    assert state.elderly
    elderly = arr(r.render(state, now))
    zone = r.zones()[Side.CUSTOMER]
    def text_rows(a):
        z = a[zone.top : zone.bottom, zone.left : zone.right].max(axis=2) > 100
        return z.any(axis=1)
    # ≥ 2× type: the tallest run of lit rows (one line of glyphs) at least doubles
    def tallest(rows):
        best = cur = 0
        for lit in rows:
            cur = cur + 1 if lit else 0
            best = max(best, cur)
        return best
    assert tallest(text_rows(elderly)) >= 1.9 * tallest(text_rows(normal))
    # high contrast: no dim text pixels left on the customer's half
    z = elderly[zone.top : zone.bottom, zone.left : zone.right].max(axis=2)
    lit = z[z > 40]
    assert np.median(lit) > 180
    assert len(state.for_reader(Side.CUSTOMER)) <= 2 and len(state.for_reader(Side.TELLER)) == 4
    t = r.zones()[Side.TELLER]  # the teller's half keeps its normal size
    assert np.array_equal(elderly[t.top : t.bottom, t.left : t.right], normal[t.top : t.bottom, t.left : t.right])


def test_elderly_from_the_card_birth_date():
    import datetime as dt

    today = dt.date(2026, 11, 23)
    assert is_elderly(dt.date(1949, 12, 31), 65, today)
    assert not is_elderly(dt.date(1961, 11, 24), 65, today)
    assert is_elderly(dt.date(1961, 11, 23), 65, today)
    assert not is_elderly(None, 65, today)


def test_teller_commands():
    s, now, _ = sample_scene("conversation", CFG)
    feed(s, UiCommand(t=now, action=UiAction.REPEAT))
    assert s.overlay is not None and s.overlay.text.startswith("かしこまりました")
    feed(s, UiCommand(t=now, action=UiAction.LANGUAGE))
    assert s.customer_language == s.customer_languages[(list(s.customer_languages).index("ja") + 1) % len(s.customer_languages)]
    feed(s, UiCommand(t=now, action=UiAction.LANGUAGE, value="ko"))
    assert s.customer_language == "ko"
    feed(s, UiCommand(t=now, action=UiAction.CLEAR))
    assert not s.captions and s.scene(now) == "attract"


def test_keys_and_touch_become_commands(fonts):
    r = Renderer(SMALL, CFG.privacy, fonts=fonts)
    d = Display(r, SceneState("zh", "ja"))
    d.open()
    try:
        pygame.event.clear()
        for key in (pygame.K_c, pygame.K_r, pygame.K_l, pygame.K_e, pygame.K_x):
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=0, unicode="", scancode=0))
        zone = r.zones()[Side.CUSTOMER]
        pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(zone.centerx, zone.top + 5), button=1))
        pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(zone.centerx, zone.bottom - 5), button=1))
        cmds = d.pump()
        assert [c.action for c in cmds] == [UiAction.CLEAR, UiAction.REPEAT, UiAction.LANGUAGE, UiAction.ELDERLY,
                                            UiAction.LANGUAGE]
        pygame.event.post(pygame.event.Event(pygame.QUIT))
        assert d.pump() is None
    finally:
        d.close()


def test_unchanged_zones_are_not_redrawn(fonts):
    r = Renderer(SMALL, CFG.privacy, fonts=fonts)
    state, now, _ = sample_scene("conversation", CFG)
    calls = []
    original = r.draw_zone
    r.draw_zone = lambda *a, **k: (calls.append(a[1]), original(*a, **k))
    r.render(state, now)
    r.render(state, now + 1)
    assert len(calls) == 2  # two zones once; the second frame reuses both
    feed(state, UiCommand(t=now, action=UiAction.ELDERLY))
    r.render(state, now + 2)
    assert len(calls) == 4


def test_name_masking_on_screen_and_in_logs(fonts, capsys):
    import logging

    from kiosk.core.logs import setup_logging

    r = Renderer(SMALL, CFG.privacy, fonts=fonts)
    s = SceneState("zh", "en")
    feed(s, FinalTranscript(side=Side.CUSTOMER, utterance_id="c1", text="你好，我叫张三丰，手机13812345678", language="zh",
                            language_probability=1, audio_s=1, asr_s=0.1))
    shown = " ".join(" ".join(lines) for lines, *_ in r._caption_block(s.captions["c1"], Side.TELLER, "zh", 5000))
    assert "张三丰" not in shown and "张**" in shown and "*******5678" in shown and "1381234" not in shown
    setup_logging("INFO")
    logging.getLogger("kiosk.test").info("heard: %s", "my name is John Smith, card 6222 0212 3456 7890")
    err = capsys.readouterr().err
    assert "John Smith" not in err and "6222 0212 3456 7890" not in err


def test_portrait_panel_draws_upright_and_rotates_the_output(fonts):
    cfg = SMALL.model_copy(update={"orientation": "portrait", "customer_zone": "top"})
    r = Renderer(cfg, CFG.privacy, fonts=fonts)
    assert r.size == (540, 960) and r.output_size == (960, 540) and r.rotate == 90
    state, now, _ = sample_scene("conversation", CFG)
    assert r.render(state, now).get_size() == (540, 960)
    d = Display(r, state)
    d.open()
    try:
        d.draw(now)
        assert pygame.display.get_surface().get_size() == (960, 540)
    finally:
        d.close()


def test_ticket_fits_in_elderly_mode(fonts):
    r = Renderer(SMALL, CFG.privacy, fonts=fonts)
    state, now, _ = sample_scene("ticket", CFG)
    feed(state, UiCommand(t=now, action=UiAction.ELDERLY, value="on"))
    frame = arr(r.render(state, now))
    zone = r.zones()[Side.CUSTOMER]
    z = frame[zone.top : zone.bottom, zone.left : zone.right]
    assert z[-3:, :].sum() == 0 and z[:, :3].sum() == 0 and z[:, -3:].sum() == 0


def test_a_partly_translated_turn_shows_the_rest_as_said_and_marked(fonts):
    """The memory translated one sentence of two: the listener sees the translation, then the other sentence as it
    was said, under a "not translated" marker in the listener's language — never silently dropped."""
    r, state, surface = render_sample("partly-translated", fonts)
    cap = state.captions["c0009"]
    assert cap.translation == "我想开一个账户。" and cap.untranslated == ("この近くに郵便局はありますか。",)
    zone = r.zones()[Side.TELLER]
    teller = arr(surface)[zone.top : zone.bottom, zone.left : zone.right]
    for text, lang, colour in (("未翻译:", "zh", (255, 176, 64)), ("この近くに郵便局はありますか。", "ja", (255, 176, 64))):
        assert find_line(teller, line_image(r, text, r._px(30), colour, lang), r._px(36)) is not None, text
