"""Run the ``training`` benchmark group: the same as ``myovox bench --only training [--quick] [--json]``."""
import sys

from myovox.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--only", "training", *sys.argv[1:]]))
