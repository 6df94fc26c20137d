"""Run the ``features`` benchmark group: the same as ``myovox bench --only features [--quick] [--json]``."""
import sys

from myovox.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--only", "features", *sys.argv[1:]]))
