"""arconnect: accounts-receivable segmentation connector."""

__version__ = "0.1.0"
