"""`latentreel play`: a scene live in a window, looping forever (installations, previews).

Frames are generated on the fly by a producer thread that keeps a small queue of batches
ahead of the display, so the window keeps its frame rate while the generator works. SDL
(through pygame) draws the window; tests run it with SDL's dummy video driver.
"""

from __future__ import annotations

import os
import queue
import threading
from pathlib import Path

import numpy as np

from latentreel.errors import BadInputError


def _producer(prepared, out: queue.Queue, stop: threading.Event) -> None:
    while not stop.is_set():  # loop the scene forever
        for frames in prepared.batches():
            while not stop.is_set():
                try:
                    out.put(frames.numpy(), timeout=0.1)
                    break
                except queue.Full:
                    continue
            if stop.is_set():
                return


def play_scene(scene, *, fullscreen: bool = False, size: int | None = None,
               max_frames: int | None = None, screenshot: Path | None = None,
               device: str = "auto", upscale: str | None = None) -> int:
    """Show ``scene`` in a window until closed (Esc/q) or ``max_frames`` are shown.

    ``upscale``: override the scene's output.upscale (frames are upscaled towards the window).

    Returns:
        the number of frames shown.
    """
    try:
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        import pygame
    except ImportError:
        raise BadInputError("`latentreel play` needs pygame: pip install pygame") from None
    from dataclasses import replace

    from latentreel.render.prepared import prepare_scene
    from latentreel.window import check_display, open_window

    check_display()  # before the scene resolves: no display, no minutes of work
    # 1. Prepare the scene as `render` does (photos through the scene's tuned generator),
    #    upscaled towards the window, looping forever.
    base = scene.output.with_height(size) if size else scene.output  # a wide frame stays so
    output = replace(base, upscale=upscale or scene.output.upscale)
    width, side = output.frame
    prepared = prepare_scene(scene, output=output, device=device, loop=True)
    # 2. Start generating ahead of the display.
    frames: queue.Queue = queue.Queue(maxsize=4)
    stop = threading.Event()
    worker = threading.Thread(target=_producer, daemon=True, name="play-producer",
                              args=(prepared, frames, stop))
    worker.start()
    # 3. Show frames at the scene's fps until told to stop.
    clock, shown = pygame.time.Clock(), 0
    try:
        screen = open_window(pygame, side=side, width=width, fullscreen=fullscreen,
                             caption=f"latentreel: {scene.file.name}")
        while max_frames is None or shown < max_frames:
            if _quit_requested(pygame):
                break
            batch = frames.get()
            for frame in batch:
                surf = pygame.surfarray.make_surface(np.ascontiguousarray(frame.transpose(1, 0, 2)))
                screen.blit(pygame.transform.smoothscale(surf, screen.get_size()), (0, 0))
                pygame.display.flip()
                shown += 1
                clock.tick(scene.output.fps)
                if max_frames is not None and shown >= max_frames:
                    break
        if screenshot is not None:
            pygame.image.save(screen, str(screenshot))
    finally:
        stop.set()
        worker.join(timeout=5)
        pygame.quit()
    return shown


def _quit_requested(pygame) -> bool:
    for event in pygame.event.get():
        if event.type == pygame.QUIT:
            return True
        if event.type == pygame.KEYDOWN and event.key in (pygame.K_ESCAPE, pygame.K_q):
            return True
    return False
