"""Live performance: a scene played in wall-clock time, steered over OSC, MIDI and live sound,
recorded so a performance replays as a render (`latentreel play`, `render --controls`)."""
