"""Protocol wall time and peak memory on a synthetic dataset; the logic is :mod:`myovox.bench.protocol`."""
from myovox.bench.protocol import main

if __name__ == "__main__":
    main()
