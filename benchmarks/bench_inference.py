"""Run the ``inference`` benchmark group: the same as ``myovox bench --only inference [--quick] [--json]``."""
import sys

from myovox.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--only", "inference", *sys.argv[1:]]))
