"""The window a performance shows in (pygame/SDL; see latentreel.window)."""

from __future__ import annotations

import contextlib
import os

import numpy as np


class Window:
    """A pygame window showing frames scaled to its size; closed by Esc, q or the window."""

    @classmethod
    def check(cls) -> Window:
        """Fail in one line, before any work, where no window can open."""
        from latentreel.window import check_display

        check_display()
        return cls()

    @contextlib.contextmanager
    def open(self, prepared, options):
        from latentreel.errors import BadInputError

        try:
            os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
            import pygame
        except ImportError:
            raise BadInputError("`latentreel play` needs pygame: pip install pygame") from None
        from latentreel.window import open_window

        self.pygame = pygame
        try:
            width, side = prepared.output.frame
            self.screen = open_window(pygame, side=side, width=width,
                                      fullscreen=options.fullscreen,
                                      caption=f"latentreel: {prepared.scene.file.name}")
            yield self
        finally:
            pygame.quit()

    def show(self, frame: np.ndarray) -> bool:
        """Draw ``frame`` [H, W, 3]; False when the viewer asked to quit."""
        pygame = self.pygame
        for event in pygame.event.get():
            if event.type == pygame.QUIT or (
                    event.type == pygame.KEYDOWN and event.key in (pygame.K_ESCAPE, pygame.K_q)):
                return False
        surf = pygame.surfarray.make_surface(np.ascontiguousarray(frame.transpose(1, 0, 2)))
        self.screen.blit(pygame.transform.smoothscale(surf, self.screen.get_size()), (0, 0))
        pygame.display.flip()
        return True
