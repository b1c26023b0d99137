"""The transparent screen: pygame rendering of the scene state.

Glass model: black pixels are clear glass, brightness is opacity, so the background stays black, text is bright
with a faint dark-grey halo, and there are no large bright fills. The customer's zone is mirrored horizontally
because the customer reads it through the glass from behind.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from ..core.config import DisplaySection, PrivacySection, Side
from ..core.errors import ErrorCode, KioskError
from ..core.events import TranslationPath, UiAction, UiCommand
from ..core.privacy import MaskRules, mask_text
from .scene import LANGUAGE_NAMES, Caption, Overlay, SceneState
from .strings import INVITATIONS, MAINTENANCE, STARTING, TICKET_TEXT, marker_kind, say
from .text import CJK_REGION, find_fonts, script_of, visual_order, wrap

log = logging.getLogger(__name__)

BLACK = (0, 0, 0)
HALO = (28, 28, 28)


@dataclass(frozen=True)
class Palette:
    """Glass colours: brightness is opacity on a transparent OLED, so dim means see-through."""

    text: tuple[int, int, int] = (240, 240, 240)
    original: tuple[int, int, int] = (150, 195, 235)
    own: tuple[int, int, int] = (125, 125, 125)
    partial: tuple[int, int, int] = (105, 105, 105)
    notice: tuple[int, int, int] = (255, 176, 64)
    badge: tuple[int, int, int] = (90, 160, 120)
    accent: tuple[int, int, int] = (120, 200, 255)


NORMAL = Palette()
# elderly / accessibility: everything bright (opaque) and high contrast, no dim grey text
HIGH_CONTRAST = Palette(text=(255, 255, 255), original=(255, 240, 150), own=(225, 225, 225), partial=(200, 200, 200),
                        notice=(255, 190, 80), badge=(160, 255, 180), accent=(160, 220, 255))

PATH_MARK = {
    TranslationPath.NMT: "MT",
    TranslationPath.PIVOT: "MT·EN",
    TranslationPath.WHISPER: "ST",
    TranslationPath.PHRASE_MEMORY: "PM",
    TranslationPath.LLM: "LLM",
}

def ensure_video_driver() -> str:
    """Use a real window when a display exists, else SDL's headless dummy driver."""
    if not os.environ.get("SDL_VIDEODRIVER") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ["SDL_VIDEODRIVER"] = "dummy"
    return os.environ.get("SDL_VIDEODRIVER", "")


class FontBook:
    """Noto faces per script (and CJK region per language), cached per size; renders shaped, haloed lines."""

    def __init__(self, fonts: dict[str, Path], cache_mb: int = 48) -> None:
        import pygame.freetype

        pygame.freetype.init()
        self._ft = pygame.freetype
        self.paths = fonts
        self._fonts: dict[tuple[str, str, int], object] = {}
        self._cjk_index: dict[str, int] = {}
        self._cache: OrderedDict[tuple, object] = OrderedDict()
        self._cache_bytes = 0
        self._cache_budget = cache_mb << 20  # big caption surfaces are ~1 MB each: bound the bytes, not the count
        self._widths: dict[tuple[str, int, str], float] = {}

    def _cjk_face(self, lang: str) -> int:
        region = CJK_REGION.get(lang, "SC")
        if region not in self._cjk_index:
            idx = 0
            for i in range(8):
                try:
                    f = self._ft.Font(str(self.paths["cjk"]), 12, font_index=i)
                except (OSError, IndexError, ValueError):
                    break
                if f.name.endswith(" " + region):
                    idx = i
                    break
            self._cjk_index[region] = idx
        return self._cjk_index[region]

    def font(self, script: str, size: int, lang: str = "") -> object:
        script = script if script in self.paths else "latin"
        region = CJK_REGION.get(lang, "SC") if script == "cjk" else ""
        key = (script, region, size)
        f = self._fonts.get(key)
        if f is None:
            index = self._cjk_face(lang) if script == "cjk" else 0
            f = self._ft.Font(str(self.paths[script]), size, font_index=index)
            f.pad = True
            f.origin = True  # render_to positions are baseline origins, so mixed fonts share a baseline
            self._fonts[key] = f
        return f

    def runs(self, text: str, size: int, lang: str) -> list[tuple[object, str]]:
        """Split a (visual-order) line into runs of one font each, falling back when a face lacks a glyph."""
        out: list[tuple[object, str]] = []
        for ch in text:
            f = self.font(script_of(ch), size, lang)
            if ch.strip() and f.get_metrics(ch)[0] is None:
                for alt in ("latin", "cjk", "arabic", "hebrew", "thai", "devanagari"):
                    if alt in self.paths:
                        g = self.font(alt, size, lang)
                        if g.get_metrics(ch)[0] is not None:
                            f = g
                            break
            if out and out[-1][0] is f:
                out[-1] = (f, out[-1][1] + ch)
            else:
                out.append((f, ch))
        return out

    def measure(self, text: str, size: int, lang: str = "") -> float:
        key = (text, size, lang)
        hit = self._widths.get(key)
        if hit is None:
            hit = 0.0
            for f, s in self.runs(visual_order(text), size, lang):
                hit += sum(m[4] for m in f.get_metrics(s) if m is not None)
            if len(self._widths) > 20000:
                self._widths.clear()
            self._widths[key] = hit
        return hit

    def line_height(self, size: int) -> int:
        return int(size * 1.45)

    def render(self, text: str, size: int, color: tuple[int, int, int], lang: str = "", halo: int = 2):
        """One logical-order line → a Surface (shaped and reordered for RTL, with a dark halo)."""
        import pygame

        key = (text, size, color, lang, halo)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        visual = visual_order(text)
        runs = self.runs(visual, size, lang)
        width = sum(sum(m[4] for m in f.get_metrics(s) if m is not None) for f, s in runs)
        h = self.line_height(size)
        base = int(size * 1.1)
        core = pygame.Surface((max(1, int(math.ceil(width)) + 2), h), pygame.SRCALPHA)
        shadow = pygame.Surface(core.get_size(), pygame.SRCALPHA) if halo else None
        x = 1.0
        for f, s in runs:
            f.render_to(core, (x, base), s, fgcolor=color)
            if shadow is not None:
                f.render_to(shadow, (x, base), s, fgcolor=HALO)
            x += sum(m[4] for m in f.get_metrics(s) if m is not None)
        if halo:
            surf = pygame.Surface((core.get_width() + 2 * halo, h + 2 * halo), pygame.SRCALPHA)
            for dx in (-halo, 0, halo):
                for dy in (-halo, 0, halo):
                    if dx or dy:
                        surf.blit(shadow, (halo + dx, halo + dy))
            surf.blit(core, (halo, halo))
        else:
            surf = core
        self._cache[key] = surf
        self._cache_bytes += surf.get_width() * surf.get_height() * 4
        while self._cache_bytes > self._cache_budget and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._cache_bytes -= old.get_width() * old.get_height() * 4
        return surf


class Renderer:
    """Draws a SceneState onto a panel-sized surface. No I/O besides pygame surfaces.

    Each zone is cached against the scene version: only a zone whose content changed is drawn again (the attract
    animation redraws the customer zone only)."""

    def __init__(self, display: DisplaySection, privacy: PrivacySection, fonts: FontBook | None = None) -> None:
        import pygame

        self.pg = pygame
        self.cfg = display
        self.privacy = privacy
        self.rules = MaskRules.from_config(privacy)
        self.fonts = fonts or FontBook(find_fonts(display.font_dirs))
        # the logical canvas: a panel mounted in portrait is drawn upright and rotated onto the physical output
        portrait = display.orientation == "portrait" and display.width > display.height
        self.size = (display.height, display.width) if portrait else (display.width, display.height)
        self.output_size = (display.width, display.height)
        self.rotate = 90 if portrait else 0
        self.base_scale = display.font_scale * min(display.width, display.height) / 1080
        self.scale = self.base_scale
        self.palette = NORMAL
        self.mirror = display.mirror_customer
        self._zone_cache: dict[Side | None, tuple[tuple, object]] = {}

    # ---- geometry ----------------------------------------------------------------------------------------
    def zones(self) -> dict[Side | None, "object"]:
        """Side → rectangle; a single-sided layout has one zone (key None) covering the panel."""
        Rect = self.pg.Rect
        w, h = self.size
        if self.cfg.layout == "single":
            return {None: Rect(0, 0, w, h)}
        cz = self.cfg.customer_zone
        if cz in ("left", "right"):
            left, right = Rect(0, 0, w // 2, h), Rect(w // 2, 0, w - w // 2, h)
            return {Side.CUSTOMER: left, Side.TELLER: right} if cz == "left" else {Side.CUSTOMER: right, Side.TELLER: left}
        top, bottom = Rect(0, 0, w, h // 2), Rect(0, h // 2, w, h - h // 2)
        return {Side.CUSTOMER: top, Side.TELLER: bottom} if cz == "top" else {Side.CUSTOMER: bottom, Side.TELLER: top}

    def _px(self, base: float) -> int:
        return max(10, int(base * self.scale))

    # ---- drawing -----------------------------------------------------------------------------------------
    def render(self, state: SceneState, now: float = 0.0):
        pg = self.pg
        if state.pattern is not None and state.diagnostics is not None:  # diagnostics: a full-panel test pattern
            from .patterns import test_pattern

            return test_pattern(state.pattern, self.size, step=int(now * 120))
        scene = state.scene(now)
        panel = pg.Surface(self.size)
        panel.fill(BLACK)
        for side, rect in self.zones().items():
            animated = scene == "attract" and side is Side.CUSTOMER
            overlay = state.overlay if state.overlay and now < state.overlay.until else None
            key = (state.version, scene, state.elderly, overlay, state.ticket_view(now), int(now * 10) if animated else 0,
                   rect.size)
            cached = self._zone_cache.get(side)
            if cached is not None and cached[0] == key:
                zone = cached[1]
            else:
                # elderly mode is for the customer: large type and high contrast on their half only
                elderly = state.elderly and side is not Side.TELLER
                self.scale = self.base_scale * (self.cfg.elderly_scale if elderly else 1.0)
                self.palette = HIGH_CONTRAST if elderly else NORMAL
                zone = pg.Surface(rect.size)
                zone.fill(BLACK)
                self.draw_zone(zone, side, state, now, scene, overlay)
                if side is Side.CUSTOMER and self.mirror:
                    zone = pg.transform.flip(zone, True, False)
                self._zone_cache[side] = (key, zone)
            panel.blit(zone, rect.topleft)
        if self.privacy.shield_zone is not None and Side.CUSTOMER in self.zones():
            x, y, w, h = self.privacy.shield_zone
            W, H = self.size
            shield = pg.Rect(int(x * W), int(y * H), int(w * W), int(h * H))
            panel.fill(BLACK, shield.clip(self.zones()[Side.CUSTOMER]))
        return panel

    def _mask(self, text: str) -> str:
        return mask_text(text, self.rules)

    def _blit_lines(self, zone, lines: list[str], size: int, color, lang: str, x: int, y: int, center: bool = False) -> int:
        for ln in lines:
            surf = self.fonts.render(ln, size, color, lang)
            zone.blit(surf, ((zone.get_width() - surf.get_width()) // 2 if center else x, y))
            y += self.fonts.line_height(size)
        return y

    def _wrap(self, text: str, size: int, lang: str, width: int) -> list[str]:
        return wrap(text, width, lambda s: self.fonts.measure(s, size, lang))

    def _caption_block(self, cap: Caption, reader: Side | None, reader_lang: str, width: int) -> list[tuple[list[str], int, tuple, str]]:
        """The lines of one caption as `reader` sees it: [(lines, size, colour, lang), …]. The teller's half shows
        route detail ([JA→ZH PM]); the customer's half only a small marker in the customer's language."""
        pal = self.palette
        small, big = self._px(30), self._px(52)
        text = self._mask(cap.text)
        if reader is not None and cap.side is reader:  # the reader's own words: small confirmation
            return [(self._wrap(text, small, cap.language, width), small, pal.own if cap.final else pal.partial, cap.language)]
        block: list[tuple[list[str], int, tuple, str]] = []
        teller = reader is Side.TELLER
        target = cap.target_language or ""
        translated = (
            cap.translation is not None
            and (reader is None or cap.target_language == reader_lang)
            and cap.path is not TranslationPath.SAME_LANGUAGE
        )
        mark = PATH_MARK.get(cap.path, "") if cap.path else ""
        badge = (f"[{cap.language.upper()}" + (f"→{target.upper()} {mark}] " if translated and mark else "] ")) if teller else ""
        same = reader is not None and cap.language == reader_lang  # the reader's own language: nothing to mark
        kind = marker_kind(cap.path, translated) if (cap.final or translated) and not same else None
        if translated:
            block.append((self._wrap(f"{badge}{text}", small, cap.language, width), small, pal.original, cap.language))
            tr = self._mask(cap.translation or "")
            block.append((self._wrap(tr, big, target, width), big, pal.text, target))
            if cap.untranslated:  # the sentences that matched nothing safely: shown as said, and said so
                block.append(([say("not-translated", reader_lang) + ":"], small, pal.notice, reader_lang))
                block.append((self._wrap(self._mask(" ".join(cap.untranslated)), small, cap.language, width), small,
                              pal.notice, cap.language))
            if not cap.verified:  # the number guard could not confirm this translation
                note = (cap.note or "unverified") if teller else say("unverified", reader_lang)
                block.append((self._wrap("⚠ " + note, small, "en" if teller else reader_lang, width), small, pal.notice,
                              "en" if teller else reader_lang))
            elif kind and not teller:
                block.append((self._wrap(say(kind, reader_lang), self._px(22), reader_lang, width), self._px(22),
                              pal.badge, reader_lang))
            return block
        # no translation for this reader (same language, none available, or not yet): the original, large
        block.append((self._wrap(f"{badge}{text}", big, cap.language, width), big, pal.text if cap.final else pal.partial,
                      cap.language))
        if cap.final and kind == "not-translated":  # said plainly, in the reader's language
            block.append((self._wrap(say("not-translated", reader_lang), small, reader_lang, width), small, pal.notice,
                          reader_lang))
        return block

    def draw_zone(self, zone, reader: Side | None, state: SceneState, now: float = 0.0, scene: str | None = None,
                  overlay: Overlay | None = None) -> None:
        pal = self.palette
        scene = scene or state.scene(now)
        w, h = zone.get_size()
        margin = self._px(36)
        width = w - 2 * margin
        lang = state.language_of(reader) if reader is not None else state.teller_language
        small = self._px(26)
        lh_small = self.fonts.line_height(small)
        # header: who reads this half, in which language, and whether we are listening
        dot = " ●" if (state.listening.get(reader) if reader else any(state.listening.values())) else ""
        title = ("Teller · " if reader is Side.TELLER else "") + LANGUAGE_NAMES.get(lang, lang) + dot
        if reader is None:
            title = f"{LANGUAGE_NAMES.get(state.teller_language)} ⇄ {LANGUAGE_NAMES.get(state.customer_language)}{dot}"
        y = self._blit_lines(zone, [title], small, pal.badge, lang, margin, margin // 2)
        if reader in (Side.TELLER, None) and state.pin_entry is not None:
            y = self._blit_lines(zone, ["Diagnostics PIN: " + "●" * state.pin_entry + "_"], self._px(34),
                                 pal.accent, "en", margin, y)
        if reader in (Side.TELLER, None):  # notices (devices, models) are for the teller only
            for note in list(state.notices.values())[-3:]:
                y = self._blit_lines(zone, self._wrap(self._mask(note), small, "en", width), small, pal.notice, "en", margin, y)
        if reader in (Side.TELLER, None) and state.suggestions and state.quick_reply is None:
            y = self._draw_suggestions(zone, state, y, width)
        top = y + lh_small // 2
        if reader in (Side.TELLER, None) and state.quick_reply is not None and scene != "diagnostics":
            self._draw_quick_replies(zone, state, top, width)
            return
        ticket = state.ticket_view(now) if reader is not Side.TELLER else None  # the teller has it as a notice
        if scene == "diagnostics":
            self._draw_diagnostics(zone, reader, state, top)
            return
        if ticket == "card":  # large, above the conversation, until a newer caption appears
            top = self._draw_ticket(zone, state, top, max_height=(h - top) if scene == "ticket" else int((h - top) * 0.55))
        elif ticket == "band":  # one line, the conversation stays in view
            top = self._draw_ticket_band(zone, state, top, width)
        if overlay is not None and reader is Side.CUSTOMER:
            self._draw_overlay(zone, overlay, top)
        elif scene == "attract":
            self._draw_attract(zone, reader, top, now, starting=state.starting)
        elif scene != "ticket":
            self._draw_captions(zone, reader, state, lang, top, width)

    def _draw_suggestions(self, zone, state: SceneState, y: int, width: int) -> int:
        """What the teller can send instead of words that matched no reviewed phrase: F1–F3."""
        size, lang, margin = self._px(26), state.teller_language, self._px(36)
        y = self._blit_lines(zone, ["Not translated — send instead:"], size, self.palette.notice, "en", margin, y)
        for i, s in enumerate(state.suggestions[:3], 1):
            y = self._blit_lines(zone, self._wrap(f"F{i}  {s.text}", size, lang, width), size, self.palette.accent,
                                 lang, margin, y)
        return y

    def _draw_quick_replies(self, zone, state: SceneState, top: int, width: int) -> None:
        """The teller's quick-reply panel: numbered phrases (and what the customer will read), or a slot to fill."""
        qr = state.quick_reply
        assert qr is not None
        pal, margin, lang = self.palette, self._px(36), state.teller_language
        size, small = self._px(30), self._px(22)
        if qr.mode == "slot":
            head = "Quick reply — type the value, Enter to send, Backspace back, Esc close"
        else:
            head = (f"Quick replies ({qr.context}) — 1–9 send · type to search · Tab next page · Esc close"
                    + (f" · search: {qr.query}_" if qr.query else ""))
        y = self._blit_lines(zone, self._wrap(head, small, "en", width), small, pal.badge, "en", margin, top)
        for item in qr.items:
            label = f"{item.key}  {item.text}" if item.key else item.text
            y = self._blit_lines(zone, self._wrap(label, size, lang, width), size, pal.text, lang, margin, y)
            if item.preview:
                target = state.customer_language
                y = self._blit_lines(zone, self._wrap("    → " + item.preview, small, target, width), small,
                                     pal.original, target, margin, y)
            if y > zone.get_height() - margin:
                break
        if qr.mode == "slot":
            y = self._blit_lines(zone, [f"{qr.prompt}  ›  {qr.entry}_"], size, pal.accent, "en", margin, y)
            if qr.error:
                self._blit_lines(zone, self._wrap("⚠ " + qr.error, small, "en", width), small, pal.notice, "en", margin, y)
        elif not qr.items:
            self._blit_lines(zone, ["(nothing found)"], small, pal.own, "en", margin, y)

    def _draw_captions(self, zone, reader: Side | None, state: SceneState, lang: str, top: int, width: int) -> None:
        """Stack captions from the newest upwards; what does not fit scrolls away (never overflows).
        In elderly mode the customer sees only what the teller said, fewer captions, larger."""
        caps = state.for_reader(reader)
        if state.elderly and reader is Side.CUSTOMER:
            caps = [c for c in state.captions.values() if c.side is Side.TELLER][-state.visible_history :]
        gap = self.fonts.line_height(self._px(26)) // 2
        bottom = zone.get_height() - self._px(36)
        for cap in reversed(caps):
            block = self._caption_block(cap, reader, lang, width)
            height = sum(len(lines) * self.fonts.line_height(size) for lines, size, _, _ in block) + gap
            if bottom - height < top:
                if cap is not caps[-1]:
                    break
                block = self._fit(block, bottom - top)
                height = sum(len(lines) * self.fonts.line_height(size) for lines, size, _, _ in block)
            y = bottom - height
            for lines, size, color, lg in block:
                y = self._blit_lines(zone, lines, size, color, lg, self._px(36), y)
            bottom -= height

    def _fit(self, block, avail: int):
        """The newest caption alone is taller than the zone. The translation (the largest text) matters most to
        the reader: drop the small lines (the speaker's original, markers — never a warning) first, then keep the
        translation's last lines (it scrolls)."""
        def height(b) -> int:
            return sum(len(lines) * self.fonts.line_height(size) for lines, size, _, _ in b)

        main = max(range(len(block)), key=lambda i: block[i][1])
        kept = list(block)
        droppable = (i for i in range(len(block)) if i != main and block[i][2] != self.palette.notice)  # warnings stay
        for i in sorted(droppable, key=lambda i: block[i][1]):
            if height(kept) <= avail:
                break
            kept = [b for b in kept if b is not block[i]]
        if height(kept) <= avail:
            return kept
        out = []
        for lines, size, color, lg in reversed(kept):
            lh = self.fonts.line_height(size)
            n = max(0, min(len(lines), avail // lh))
            if n:
                out.append((lines[-n:], size, color, lg))
            avail -= n * lh
        return list(reversed(out))

    def _draw_overlay(self, zone, overlay: Overlay, top: int) -> None:
        """The teller's "repeat, larger": the last translation alone, as large as fits."""
        w, h = zone.get_size()
        margin = self._px(36)
        size = self._px(90)
        while size > self._px(40):
            lines = self._wrap(self._mask(overlay.text), size, overlay.language, w - 2 * margin)
            if len(lines) * self.fonts.line_height(size) <= h - top - margin:
                break
            size = int(size * 0.85)
        lines = self._wrap(self._mask(overlay.text), size, overlay.language, w - 2 * margin)
        y = top + max(0, (h - top - margin - len(lines) * self.fonts.line_height(size)) // 2)
        self._blit_lines(zone, lines, size, self.palette.text, overlay.language, margin, y)

    def _draw_ticket(self, zone, state: SceneState, top: int, max_height: int) -> int:
        """The ticket as a card: number large, business, people ahead and wait; returns the y below it."""
        t = state.ticket
        assert t is not None
        pal = self.palette
        w, h = zone.get_size()
        margin = self._px(36)
        lang = t.language if t.language in TICKET_TEXT else "en"
        label, ahead, wait = TICKET_TEXT[lang]
        extra = ahead.format(n=t.waiting_ahead) + " · " + wait.format(m=max(1, round(t.estimated_wait_min)))
        width = w - 2 * margin
        sizes = {"label": self._px(40), "number": self._px(200), "business": self._px(44), "extra": self._px(36)}
        avail = max_height - margin // 2
        for _ in range(8):  # shrink until the whole ticket fits its share (elderly mode doubles everything)
            rows = [([label], sizes["label"], pal.original), ([t.number], sizes["number"], pal.text),
                    (self._wrap(t.business, sizes["business"], lang, width), sizes["business"], pal.text),
                    (self._wrap(extra, sizes["extra"], lang, width), sizes["extra"], pal.original)]
            need = sum(len(lines) * self.fonts.line_height(size) for lines, size, _ in rows)
            widest = self.fonts.measure(t.number, sizes["number"], "en")
            if need <= avail and widest <= width:
                break
            factor = min(avail / need, width / widest, 0.95)
            sizes = {k: max(10, int(v * factor)) for k, v in sizes.items()}
        y = top + max(0, (avail - need) // 2)
        for lines, size, colour in rows:
            y = self._blit_lines(zone, lines, size, colour, lang if lines[0] != t.number else "en", margin, y, center=True)
        return top + max(need, avail) + margin // 2

    def _draw_ticket_band(self, zone, state: SceneState, top: int, width: int) -> int:
        """The ticket in one line above the conversation: "Your number V003 · 2 waiting ahead of you"."""
        t = state.ticket
        assert t is not None
        lang = t.language if t.language in TICKET_TEXT else "en"
        label, ahead, _ = TICKET_TEXT[lang]
        size = self._px(40)
        line = f"{label} {t.number} · {ahead.format(n=t.waiting_ahead)}"
        lines = self._wrap(line, size, lang, width)[:2]
        return self._blit_lines(zone, lines, size, self.palette.accent, lang, self._px(36), top) + self._px(12)

    def _draw_diagnostics(self, zone, reader: Side | None, state: SceneState, top: int) -> None:
        pal = self.palette
        w, _ = zone.get_size()
        margin = self._px(36)
        if reader is Side.CUSTOMER:
            self._blit_lines(zone, self._wrap(MAINTENANCE, self._px(40), "zh", w - 2 * margin), self._px(40), pal.own, "zh", margin, top)
            return
        size = self._px(28)
        colours = {"pass": pal.badge, "warn": pal.notice, "fail": (255, 90, 90)}
        y = self._blit_lines(zone, ["DIAGNOSTICS"], self._px(34), pal.accent, "en", margin, top)
        for row in state.diagnostics or []:
            line = f"{row.status.upper():<5} {row.name}" + (f" — {row.hint}" if row.hint else "")
            y = self._blit_lines(zone, self._wrap(line, size, "en", w - 2 * margin), size, colours.get(row.status, pal.text), "en", margin, y)

    def _draw_attract(self, zone, reader: Side | None, top: int, now: float, starting: bool = False) -> None:
        w, h = zone.get_size()
        margin = self._px(36)
        if reader is Side.TELLER:
            status = "Starting — loading speech models…" if starting else "Ready — listening"
            self._blit_lines(zone, [status], self._px(30), self.palette.notice if starting else self.palette.own, "en",
                             margin, top)
            return
        size = self._px(40)
        lh = self.fonts.line_height(size)
        texts = STARTING if starting else INVITATIONS
        lines = [(lg, ln) for lg, text in texts for ln in self._wrap(text, size, lg, w - 2 * margin)]
        # a slow vertical drift keeps the same pixels from staying lit (burn-in)
        drift = int((math.sin(now / 20.0) * 0.5 + 0.5) * max(0, h - top - margin - lh * len(lines)))
        y = top + drift
        for lg, ln in lines:
            y = self._blit_lines(zone, [ln], size, self.palette.text if lg == "zh" else self.palette.original, lg, margin, y)


class Display:
    """The render loop: paces frames, never waits for inference, reads the latest scene state."""

    def __init__(self, renderer: Renderer, state: SceneState, *, fps: int = 60, fullscreen: bool = False) -> None:
        self.renderer = renderer
        self.state = state
        self.fps = fps
        self.fullscreen = fullscreen
        self.frame_times: list[float] = []
        self.frames = 0
        self.last_frame = None
        self._screen = None
        self._drawn_version = -1

    def open(self) -> None:
        import pygame

        ensure_video_driver()
        try:
            pygame.display.init()
            flags = pygame.FULLSCREEN if self.fullscreen else 0
            self._screen = pygame.display.set_mode(self.renderer.output_size, flags)
            pygame.display.set_caption("Kiosk transparent screen")
            if self.fullscreen:
                pygame.mouse.set_visible(False)
        except pygame.error as e:
            raise KioskError(ErrorCode.DISPLAY_FAILED, f"cannot open the display: {e}") from None

    def close(self) -> None:
        import pygame

        pygame.display.quit()

    def draw(self, now: float | None = None) -> None:
        import pygame

        t0 = time.perf_counter()
        now = time.monotonic() if now is None else now
        frame = self.renderer.render(self.state, now)  # zones are cached: unchanged halves are not redrawn
        if frame is not self.last_frame and self._screen is not None:
            out = pygame.transform.rotate(frame, self.renderer.rotate) if self.renderer.rotate else frame
            self._screen.blit(out, (0, 0))
        self.last_frame = frame
        if self._screen is not None:
            pygame.display.flip()
        self.frames += 1
        self.frame_times.append(time.perf_counter() - t0)
        if len(self.frame_times) > 10000:
            del self.frame_times[:5000]

    def save(self, path: Path) -> Path:
        import pygame

        if self.last_frame is None:
            self.draw()
        path.parent.mkdir(parents=True, exist_ok=True)
        pygame.image.save(self.last_frame, str(path))
        return path

    def pump(self) -> list[UiCommand] | None:
        """Window events → teller commands; None when the window was closed (or Escape pressed)."""
        import pygame

        commands: list[UiCommand] = []
        for ev in pygame.event.get():
            if ev.type == pygame.KEYDOWN and self.state.pin_entry is not None:  # typing the diagnostics PIN
                key = {pygame.K_RETURN: "enter", pygame.K_KP_ENTER: "enter", pygame.K_BACKSPACE: "back",
                       pygame.K_ESCAPE: "cancel"}.get(ev.key)
                if key is None and (pygame.K_0 <= ev.key <= pygame.K_9):
                    key = str(ev.key - pygame.K_0)
                if key is not None:
                    commands.append(UiCommand(action=UiAction.PIN, value=key))
                continue
            if self.state.quick_reply is not None and ev.type in (pygame.KEYDOWN, pygame.TEXTINPUT):
                value = quick_reply_key(ev, self.state.quick_reply.mode)
                if value is not None:
                    commands.append(UiCommand(action=UiAction.QUICK_REPLY, value=value))
                continue
            if ev.type == pygame.KEYDOWN and ev.key == pygame.K_q:
                commands.append(UiCommand(action=UiAction.QUICK_REPLY, value="open"))
                continue
            if ev.type == pygame.KEYDOWN and pygame.K_F1 <= ev.key <= pygame.K_F3 and self.state.suggestions:
                commands.append(UiCommand(action=UiAction.SUGGESTION, value=str(ev.key - pygame.K_F1 + 1)))
                continue
            if ev.type == pygame.QUIT or (ev.type == pygame.KEYDOWN and ev.key == pygame.K_ESCAPE):
                return None
            if ev.type == pygame.KEYDOWN and ev.key in KEYS:
                commands.append(UiCommand(action=KEYS[ev.key]))
            elif ev.type == pygame.KEYDOWN and pygame.K_1 <= ev.key <= pygame.K_9:
                # a walk-in ticket for the n-th business type (the "no card" buttons)
                commands.append(UiCommand(action=UiAction.TICKET, value=f"#{ev.key - pygame.K_0}"))
            elif ev.type in (pygame.MOUSEBUTTONDOWN, pygame.FINGERDOWN):
                pos = ev.pos if ev.type == pygame.MOUSEBUTTONDOWN else (
                    int(ev.x * self.renderer.size[0]), int(ev.y * self.renderer.size[1]))
                cmd = touch_command(self.renderer, pos)
                if cmd is not None:
                    commands.append(cmd)
        return commands


def _keys() -> dict[int, UiAction]:
    import pygame

    return {pygame.K_c: UiAction.CLEAR, pygame.K_r: UiAction.REPEAT, pygame.K_l: UiAction.LANGUAGE,
            pygame.K_e: UiAction.ELDERLY, pygame.K_w: UiAction.TICKET, pygame.K_n: UiAction.CALL_NEXT,
            pygame.K_d: UiAction.DIAGNOSTICS, pygame.K_p: UiAction.PATTERN}


KEYS = _keys()


def quick_reply_key(ev, mode: str) -> str | None:
    """A key or typed text while the quick-reply panel is open → its command value (digits pick in the list,
    are text in a slot; letters search)."""
    import pygame

    if ev.type == pygame.TEXTINPUT:
        if mode == "list" and ev.text.isdigit():
            return None  # the KEYDOWN of a digit picks
        return "char:" + ev.text
    keys = {pygame.K_ESCAPE: "close", pygame.K_BACKSPACE: "back", pygame.K_RETURN: "enter", pygame.K_KP_ENTER: "enter",
            pygame.K_TAB: "page", pygame.K_PAGEDOWN: "page"}
    if ev.key in keys:
        return keys[ev.key]
    if mode == "list" and pygame.K_1 <= ev.key <= pygame.K_9:
        return f"pick:{ev.key - pygame.K_0}"
    return None


def touch_command(renderer: Renderer, pos: tuple[int, int]) -> UiCommand | None:
    """A touch on the customer's header (their language name) cycles the customer's language."""
    zone = renderer.zones().get(Side.CUSTOMER)
    if zone is None or not zone.collidepoint(pos):
        return None
    if pos[1] - zone.top < renderer._px(36) + renderer.fonts.line_height(renderer._px(26)):
        return UiCommand(action=UiAction.LANGUAGE)
    return None
