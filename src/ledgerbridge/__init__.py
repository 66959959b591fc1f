"""ledgerbridge: an integration hub for Xero, QuickBooks Online and Lightspeed X-Series."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ledgerbridge")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
