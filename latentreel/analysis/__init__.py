"""Looking at what a scene does: identity analysis and perceptually even timing."""
