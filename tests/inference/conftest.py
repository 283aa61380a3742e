"""Fixtures of the inference tests: the real digits of the command tests."""
from tests.cli.conftest import digits, mnist_root, trained_run  # noqa: F401  (fixtures)
