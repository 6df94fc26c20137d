"""Models: SpeechNet (PyTorch, imported only when used) and classical baselines, sklearn-style."""
