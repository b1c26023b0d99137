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
from pathlib import Path

from .config import DisplaySection, PrivacySection, Side
from .errors import ErrorCode, KioskError
from .events import TranslationPath
from .privacy import MaskRules, mask_text
from .scene import LANGUAGE_NAMES, Caption, SceneState
from .text import CJK_REGION, find_fonts, script_of, visual_order, wrap

log = logging.getLogger(__name__)

BLACK = (0, 0, 0)
HALO = (28, 28, 28)
WHITE = (240, 240, 240)
ORIGINAL = (150, 195, 235)
OWN = (125, 125, 125)
PARTIAL = (105, 105, 105)
NOTICE = (255, 176, 64)
BADGE = (90, 160, 120)

PATH_MARK = {
    TranslationPath.NMT: "MT",
    TranslationPath.PIVOT: "MT·EN",
    TranslationPath.WHISPER: "ST",
    TranslationPath.PHRASE_MEMORY: "PM",
}

INVITATIONS = (
    ("zh", "请讲话，或将身份证放在读卡器上"),
    ("en", "Please speak, or place your ID card on the reader"),
    ("ja", "お話しください"),
    ("ko", "말씀해 주세요"),
    ("ru", "Пожалуйста, говорите"),
    ("ar", "تفضل بالكلام"),
)


def ensure_video_driver() -> str:
    """Use a real window when a display exists, else SDL's headless dummy driver."""
    if not os.environ.get("SDL_VIDEODRIVER") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ["SDL_VIDEODRIVER"] = "dummy"
    return os.environ.get("SDL_VIDEODRIVER", "")


class FontBook:
    """Noto faces per script (and CJK region per language), cached per size; renders shaped, haloed lines."""

    def __init__(self, fonts: dict[str, Path], cache_size: int = 512) -> None:
        import pygame.freetype

        pygame.freetype.init()
        self._ft = pygame.freetype
        self.paths = fonts
        self._fonts: dict[tuple[str, str, int], object] = {}
        self._cjk_index: dict[str, int] = {}
        self._cache: OrderedDict[tuple, object] = OrderedDict()
        self._cache_size = cache_size

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

    def measure(self, text: str, size: int, lang: str = "") -> int:
        width = 0.0
        for f, s in self.runs(visual_order(text), size, lang):
            width += sum(m[4] for m in f.get_metrics(s) if m is not None)
        return int(math.ceil(width))

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
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return surf


class Renderer:
    """Draws a SceneState onto a panel-sized surface. No I/O besides pygame surfaces."""

    def __init__(self, display: DisplaySection, privacy: PrivacySection, fonts: FontBook | None = None) -> None:
        import pygame

        self.pg = pygame
        self.cfg = display
        self.privacy = privacy
        self.rules = MaskRules(privacy.mask_id_numbers, privacy.mask_card_numbers, privacy.mask_phone_numbers)
        self.fonts = fonts or FontBook(find_fonts(display.font_dirs))
        self.size = (display.width, display.height)
        self.scale = display.font_scale * min(display.width, display.height) / 1080
        self.mirror = display.mirror_customer

    # ---- geometry ----------------------------------------------------------------------------------------
    def zones(self) -> dict[Side, "object"]:
        Rect = self.pg.Rect
        w, h = self.size
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
        panel = pg.Surface(self.size)
        panel.fill(BLACK)
        for side, rect in self.zones().items():
            zone = pg.Surface(rect.size)
            zone.fill(BLACK)
            self.draw_zone(zone, side, state, now)
            if side is Side.CUSTOMER and self.mirror:
                zone = pg.transform.flip(zone, True, False)
            panel.blit(zone, rect.topleft)
        if self.privacy.shield_zone is not None:
            x, y, w, h = self.privacy.shield_zone
            W, H = self.size
            shield = pg.Rect(int(x * W), int(y * H), int(w * W), int(h * H))
            panel.fill(BLACK, shield.clip(self.zones()[Side.CUSTOMER]))
        return panel

    def _mask(self, text: str) -> str:
        return mask_text(text, self.rules)

    def _blit_lines(self, zone, lines: list[str], size: int, color, lang: str, x: int, y: int) -> int:
        for ln in lines:
            surf = self.fonts.render(ln, size, color, lang)
            zone.blit(surf, (x, y))
            y += self.fonts.line_height(size)
        return y

    def _caption_block(self, cap: Caption, reader: Side, reader_lang: str, width: int) -> list[tuple[list[str], int, tuple, str]]:
        """The lines of one caption as `reader` sees it: [(lines, size, colour, lang), …]."""
        small, big = self._px(30), self._px(52)
        m = self.fonts.measure
        text = self._mask(cap.text)
        if cap.side is reader:  # the reader's own words: small confirmation
            color = OWN if cap.final else PARTIAL
            return [(wrap(text, width, lambda s: m(s, small, cap.language)), small, color, cap.language)]
        block: list[tuple[list[str], int, tuple, str]] = []
        mark = PATH_MARK.get(cap.path, "") if cap.path else ""
        translated = (
            cap.translation is not None
            and cap.target_language == reader_lang
            and cap.path is not TranslationPath.SAME_LANGUAGE
        )
        badge = f"[{cap.language.upper()}" + (f"→{reader_lang.upper()} {mark}]" if translated and mark else "]")
        if translated:
            block.append((wrap(f"{badge} {text}", width, lambda s: m(s, small, cap.language)), small, ORIGINAL, cap.language))
            tr = self._mask(cap.translation or "")
            block.append((wrap(tr, width, lambda s: m(s, big, reader_lang)), big, WHITE, reader_lang))
            if not cap.verified:  # the number guard could not confirm this translation
                warn = "⚠ " + (cap.note or "unverified")
                block.append((wrap(warn, width, lambda s: m(s, small, "en")), small, NOTICE, "en"))
            return block
        # no translation for this reader (same language, none available, or not yet): the original, large
        color = WHITE if cap.final else PARTIAL
        block.append((wrap(f"{badge} {text}", width, lambda s: m(s, big, cap.language)), big, color, cap.language))
        if cap.final and cap.path is TranslationPath.NONE and reader is Side.TELLER:
            block.append(([f"(not translated into {reader_lang})"], small, NOTICE, "en"))
        return block

    def draw_zone(self, zone, reader: Side, state: SceneState, now: float = 0.0) -> None:
        w, h = zone.get_size()
        margin = self._px(36)
        width = w - 2 * margin
        lang = state.language_of(reader)
        small = self._px(26)
        lh_small = self.fonts.line_height(small)
        # header
        dot = " ●" if state.listening.get(reader) else ""
        title = ("Teller · " if reader is Side.TELLER else "") + LANGUAGE_NAMES.get(lang, lang) + dot
        y = self._blit_lines(zone, [title], small, BADGE, lang, margin, margin // 2)
        if reader is Side.TELLER:
            for note in list(state.notices.values())[-3:]:
                lines = wrap(self._mask(note), width, lambda s: self.fonts.measure(s, small, "en"))
                y = self._blit_lines(zone, lines, small, NOTICE, "en", margin, y)
        top = y + lh_small // 2
        caps = state.for_reader(reader)
        if not caps:
            self._draw_attract(zone, reader, top, now)
            return
        # stack captions from the newest upwards; what does not fit scrolls away
        bottom = h - margin
        for cap in reversed(caps):
            block = self._caption_block(cap, reader, lang, width)
            height = sum(len(lines) * self.fonts.line_height(size) for lines, size, _, _ in block) + lh_small // 2
            if bottom - height < top:
                if cap is caps[-1]:
                    block = self._fit(block, bottom - top)
                    height = sum(len(lines) * self.fonts.line_height(size) for lines, size, _, _ in block)
                else:
                    break
            y = bottom - height
            for lines, size, color, lg in block:
                y = self._blit_lines(zone, lines, size, color, lg, margin, y)
            bottom -= height

    def _fit(self, block, avail: int):
        """The newest caption alone is taller than the zone: keep its last lines (it scrolls)."""
        out = []
        for lines, size, color, lg in reversed(block):
            lh = self.fonts.line_height(size)
            n = max(0, min(len(lines), avail // lh))
            if n:
                out.append((lines[-n:], size, color, lg))
            avail -= n * lh
        return list(reversed(out))

    def _draw_attract(self, zone, reader: Side, top: int, now: float) -> None:
        w, h = zone.get_size()
        margin = self._px(36)
        if reader is Side.TELLER:
            self._blit_lines(zone, ["Ready — listening"], self._px(30), OWN, "en", margin, top)
            return
        size = self._px(40)
        lh = self.fonts.line_height(size)
        # a slow vertical drift keeps the same pixels from staying lit (burn-in)
        drift = int((math.sin(now / 20.0) * 0.5 + 0.5) * max(0, h - top - margin - lh * len(INVITATIONS)))
        y = top + drift
        for lg, text in INVITATIONS:
            for ln in wrap(text, w - 2 * margin, lambda s, lg=lg: self.fonts.measure(s, size, lg)):
                self._blit_lines(zone, [ln], size, WHITE if lg == "zh" else ORIGINAL, lg, margin, y)
                y += lh


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
            self._screen = pygame.display.set_mode(self.renderer.size, flags)
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
        idle = not self.state.captions
        if self.state.version != self._drawn_version or idle or self.last_frame is None:
            self.last_frame = self.renderer.render(self.state, now)
            self._drawn_version = self.state.version
            if self._screen is not None:
                self._screen.blit(self.last_frame, (0, 0))
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

    def pump(self) -> bool:
        """Handle window events; False when the window was closed or Escape pressed."""
        import pygame

        for ev in pygame.event.get():
            if ev.type == pygame.QUIT or (ev.type == pygame.KEYDOWN and ev.key == pygame.K_ESCAPE):
                return False
        return True
