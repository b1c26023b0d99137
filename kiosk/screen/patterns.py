"""Full-panel test patterns for the field technician (drawn by the renderer in diagnostics mode)."""

from __future__ import annotations

PATTERNS = ("black", "grey-ramp", "colour-bars", "grid", "pixel-sweep")


def test_pattern(name: str, size: tuple[int, int], step: int = 0):
    """Full black (= clear glass), grey ramp, colour bars, burn-in check grid, dead-pixel sweep (a moving line)."""
    import pygame

    w, h = size
    s = pygame.Surface(size)
    s.fill((0, 0, 0))
    if name == "grey-ramp":
        for x in range(w):
            v = int(255 * x / max(1, w - 1))
            pygame.draw.line(s, (v, v, v), (x, 0), (x, h))
    elif name == "colour-bars":
        bars = [(255, 255, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0), (255, 0, 255), (255, 0, 0), (0, 0, 255)]
        for i, c in enumerate(bars):
            s.fill(c, pygame.Rect(i * w // len(bars), 0, w // len(bars) + 1, h))
    elif name == "grid":
        for x in range(0, w, 40):
            pygame.draw.line(s, (128, 128, 128), (x, 0), (x, h))
        for y in range(0, h, 40):
            pygame.draw.line(s, (128, 128, 128), (0, y), (w, y))
    elif name == "pixel-sweep":
        x = step % w
        pygame.draw.line(s, (255, 255, 255), (x, 0), (x, h))
    return s
