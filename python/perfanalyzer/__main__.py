"""`python -m perfanalyzer` and the `perfanalyzer` command.

The signal handlers go in before anything else is imported, so that a Ctrl-C
even while the interpreter loads the package ends with one line, not a
traceback."""

import sys

from perfanalyzer import stopping


def main() -> int:
    stopping.install()
    try:
        with stopping.held():  # a signal during an import is acted on after it
            from perfanalyzer.cli import main as cli_main
    except KeyboardInterrupt:
        print(f"error: interrupted by {stopping.received() or 'SIGINT'}", file=sys.stderr, flush=True)
        return 99
    try:
        return cli_main()
    finally:
        stopping.ignore()


if __name__ == "__main__":
    sys.exit(main())
