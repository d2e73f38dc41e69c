"""The music of a scene: reading sound files, per-video-frame features, and shaping them.

Every feature holds exactly one value per video frame: the sound is resampled so that one
frame is a whole number of samples (see features.analysis_rate), so a long song never drifts
against the picture.
"""
