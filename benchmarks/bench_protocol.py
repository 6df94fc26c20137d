"""Run the ``protocol`` benchmark group: the same as ``myovox bench --only protocol [--quick] [--json]``."""
import sys

from myovox.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--only", "protocol", *sys.argv[1:]]))
