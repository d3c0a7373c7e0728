"""`python -m greenloop`: the same CLI as the `greenloop` script."""

from greenloop.cli import main

if __name__ == "__main__":
    main()
