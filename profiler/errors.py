"""Exceptions that leave the library. Only the CLI turns them into one line and an exit code."""

from __future__ import annotations


class ProfilerError(Exception):
    """Base of every error the CLI reports as one line with exit code 2."""


class InputError(ProfilerError):
    """Bad input: names the file (and line or field where known) and what is wrong."""

    def __init__(self, source: str, problem: str, *, where: str | None = None) -> None:
        self.source = source
        self.problem = problem
        self.where = where
        location = f"{source}:{where}" if where else source
        super().__init__(f"{location}: {problem}")


class ConfigError(ProfilerError):
    """Bad configuration: names the file and the TOML key."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        super().__init__(f"{source}: [{key}] {problem}")


class UsageError(ProfilerError):
    """A bad option value or combination that Click cannot catch by itself."""
