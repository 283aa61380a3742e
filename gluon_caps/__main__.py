"""``python -m gluon_caps``: the same command line as the ``gluon-caps`` console script."""
from .cli import main

if __name__ == "__main__":
    main(prog_name="gluon-caps")
