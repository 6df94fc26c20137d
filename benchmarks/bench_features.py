"""Feature extraction speed (vectorised vs per-window loop); the logic is :mod:`myovox.bench.features`."""
from myovox.bench.features import main

if __name__ == "__main__":
    main()
