"""Training MusicVAE with the full magenta objective (used to build the embedded default model)."""
