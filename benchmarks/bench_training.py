"""SpeechNet training throughput vs a straightforward loop; the logic is :mod:`myovox.bench.training`."""
from myovox.bench.training import main

if __name__ == "__main__":
    main()
