"""`python -m runner [overrides]`: the command line (runner/cli.py), then an exit that skips torch's teardown."""

from runner.cli import main
from runner.hydra_compat import exit_without_teardown

if __name__ == "__main__":
    exit_without_teardown(main())
