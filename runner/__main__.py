"""`python -m runner [overrides]`: the command line (runner/cli.py), then an exit that skips torch's teardown."""

import sys

try:
    from runner.cli import main
    from runner.hydra_compat import exit_without_teardown
except KeyboardInterrupt:  # Ctrl-C while the imports load: one line, no traceback
    print("error: interrupted (Ctrl-C) while starting; nothing was run", file=sys.stderr)
    sys.exit(130)

if __name__ == "__main__":
    exit_without_teardown(main())
