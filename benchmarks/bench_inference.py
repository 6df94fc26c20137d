"""Single-window inference latency (torch, onnxruntime, int8 C); the logic is :mod:`myovox.bench.inference`."""
from myovox.bench.inference import main

if __name__ == "__main__":
    main()
