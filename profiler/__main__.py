"""`python -m profiler` is the same as the `profiler` console command."""

from profiler.cli import main

if __name__ == "__main__":
    main()
