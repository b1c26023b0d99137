"""Headless rendering of the glass: known captions, mirroring, CJK glyphs, right-to-left text, privacy."""

import numpy as np
import pygame
import pytest

from kiosk.core.config import PrivacySection, Side, load_config
from kiosk.screen.display import Renderer
from kiosk.core.events import FinalTranscript, Translation, TranslationPath
from kiosk.screen.scene import SceneState
from kiosk.screen.text import find_fonts, visual_order, wrap


def feed(state, ev):
    """What the bus does (core.bus): the conversation, domain state, first; then the screen state, a view."""
    state.conversation.apply(ev)
    state.apply(ev)



def arr(surface) -> np.ndarray:
    return pygame.surfarray.array3d(surface).transpose(1, 0, 2).astype(np.int16)  # (h, w, 3)


def line_image(renderer, text, size, color, lang) -> np.ndarray:
    surf = renderer.fonts.render(text, size, color, lang)
    canvas = pygame.Surface(surf.get_size())
    canvas.fill((0, 0, 0))
    canvas.blit(surf, (0, 0))
    return arr(canvas)


def find_line(frame: np.ndarray, line: np.ndarray, x: int) -> int | None:
    """The row where `line` appears in `frame` at column x (tolerant of neighbouring halos), or None."""
    h, w = line.shape[:2]
    ink = line.sum(axis=2) > 200  # compare where the glyphs are bright
    for y in range(0, frame.shape[0] - h + 1):
        window = frame[y : y + h, x : x + w]
        if window.shape[:2] != (h, w):
            continue
        if np.abs(window[ink] - line[ink]).mean() < 3:
            return y
    return None


def conversation(teller_text="Please show me your ID card.", customer_text="口座を開きたいです。"):
    s = SceneState("en", "ja")
    feed(s, FinalTranscript(side=Side.TELLER, utterance_id="t1", text=teller_text, language="en",
                            language_probability=1.0, audio_s=2, asr_s=0.2))
    feed(s, Translation(side=Side.TELLER, utterance_id="t1", source_language="en", target_language="ja",
                        source_text=teller_text, text="身分証明書を見せてください。", path=TranslationPath.NMT))
    feed(s, FinalTranscript(side=Side.CUSTOMER, utterance_id="c1", text=customer_text, language="ja",
                            language_probability=0.99, audio_s=2, asr_s=0.2))
    return s


def test_known_caption_is_drawn_in_the_teller_zone(renderer):
    state = conversation()
    frame = arr(renderer.render(state))
    teller = renderer.zones()[Side.TELLER]
    big = renderer._px(52)
    # the customer's Japanese, untranslated for the English teller, is shown large with its badge
    line = line_image(renderer, "[JA] 口座を開きたいです。", big, (240, 240, 240), "ja")
    zone = frame[teller.top : teller.bottom, teller.left : teller.right]
    assert find_line(zone, line, renderer._px(36)) is not None
    # and not drawn when the caption is absent
    empty = arr(renderer.render(SceneState("en", "ja")))[teller.top : teller.bottom, teller.left : teller.right]
    assert find_line(empty, line, renderer._px(36)) is None


def test_customer_zone_is_the_mirror_of_the_unmirrored_rendering():
    cfg = load_config().config
    d = cfg.display.model_copy(update={"width": 960, "height": 540})
    mirrored = Renderer(d, cfg.privacy)
    plain = Renderer(d.model_copy(update={"mirror_customer": False}), cfg.privacy, fonts=mirrored.fonts)
    state = conversation()
    a, b = arr(mirrored.render(state)), arr(plain.render(state))
    c = mirrored.zones()[Side.CUSTOMER]
    t = mirrored.zones()[Side.TELLER]
    ca, cb = a[c.top : c.bottom, c.left : c.right], b[c.top : c.bottom, c.left : c.right]
    assert ca.sum() > 0
    assert np.array_equal(ca, cb[:, ::-1])
    assert not np.array_equal(ca, cb)
    assert np.array_equal(a[t.top : t.bottom, t.left : t.right], b[t.top : t.bottom, t.left : t.right])


@pytest.mark.parametrize("zone", ["left", "right", "top", "bottom"])
def test_zones_split_the_panel(zone):
    cfg = load_config().config
    r = Renderer(cfg.display.model_copy(update={"customer_zone": zone, "width": 800, "height": 600}), cfg.privacy)
    z = r.zones()
    assert z[Side.CUSTOMER].union(z[Side.TELLER]) == pygame.Rect(0, 0, 800, 600)
    assert not z[Side.CUSTOMER].colliderect(z[Side.TELLER])
    edge = {"left": z[Side.CUSTOMER].left == 0, "right": z[Side.CUSTOMER].right == 800,
            "top": z[Side.CUSTOMER].top == 0, "bottom": z[Side.CUSTOMER].bottom == 600}
    assert edge[zone]


@pytest.mark.parametrize("lang,text", [("zh", "您好请出示身份证"), ("ja", "口座を開きたい"), ("ko", "말씀해 주세요")])
def test_cjk_glyphs_are_not_tofu(renderer, lang, text):
    fonts = renderer.fonts
    notdef = line_image(renderer, "\ue000", 48, (255, 255, 255), lang)  # private use: the font's .notdef box
    for ch in text.replace(" ", ""):
        (font, _), = fonts.runs(ch, 48, lang)
        assert font.get_metrics(ch)[0] is not None, ch
        glyph = line_image(renderer, ch, 48, (255, 255, 255), lang)
        assert glyph.sum() > 0
        if glyph.shape == notdef.shape:
            assert not np.array_equal(glyph, notdef), ch


def test_cjk_face_follows_language(renderer):
    zh = renderer.fonts.font("cjk", 30, "zh")
    ja = renderer.fonts.font("cjk", 30, "ja")
    assert zh.name.endswith("SC") and ja.name.endswith("JP")


def test_arabic_is_shaped_and_right_to_left():
    logical = "مرحبا 123"
    visual = visual_order(logical)
    assert visual != logical
    assert visual.startswith("123")  # digits stay left-to-right, on the left of an RTL line
    assert all(not ("\u0600" <= c <= "\u06ff") for c in visual if c.strip() and not c.isdigit())  # presentation forms


def test_long_text_never_overflows_the_zone(renderer):
    state = conversation(teller_text="very long sentence " * 60)
    frame = arr(renderer.render(state))
    c = renderer.zones()[Side.CUSTOMER]
    # mirrored customer zone: the text's left margin lands on the right; nothing may touch the outer 4 px
    zone = frame[c.top : c.bottom, c.left : c.right]
    assert zone[:, :4].sum() == 0 and zone[:, -4:].sum() == 0 and zone[-4:, :].sum() == 0


def test_id_numbers_are_masked_on_screen(renderer):
    state = conversation(teller_text="Your ID 11010119900307123X is confirmed")
    blocks = renderer._caption_block(state.captions["t1"], Side.CUSTOMER, "ja", 2000)
    shown = " ".join(" ".join(lines) for lines, *_ in blocks)
    assert "*" * 14 in shown and "11010119900307123X" not in shown and "1101011990" not in shown


def test_privacy_shield_zone_is_kept_dark():
    cfg = load_config().config
    d = cfg.display.model_copy(update={"width": 960, "height": 540})
    r = Renderer(d, PrivacySection(shield_zone=(0.0, 0.5, 0.5, 0.5)))
    frame = arr(r.render(conversation(teller_text="word " * 80)))
    assert frame[270:540, 0:480].sum() == 0
    assert frame[0:270, 0:480].sum() > 0


def test_fonts_are_discovered():
    fonts = find_fonts()
    assert {"latin", "cjk", "arabic"} <= set(fonts)


def test_wrap_by_script():
    m = len
    assert wrap("Good morning, how are you", 13, m) == ["Good morning,", "how are you"]
    assert wrap("Supercalifragilistic", 8, m) == ["Supercal", "ifragili", "stic"]  # last resort only
    lines = wrap("Good morning, how are you today", 14, m)
    assert all(len(ln) <= 14 for ln in lines) and " ".join(lines) == "Good morning, how are you today"
    cjk = wrap("口座を開きたいです。手数料はいくらですか。", 6, m)
    assert "".join(cjk) == "口座を開きたいです。手数料はいくらですか。"
    assert not any(ln[0] in "。、" for ln in cjk)  # kinsoku: no line starts with closing punctuation
