"""FaceNet feedback loops (seed 003): a face's embedding seeds the next face."""
