"""The project's one error tree for hardware: library exceptions are translated into these.

Expected conditions (no card, paper out, unplugged) are statuses, not
exceptions; these are for what a caller must handle as a failed operation.
"""
from __future__ import annotations


class DriverError(Exception):
    """Root of every hardware error the project raises."""


class ReaderError(DriverError):
    """The card reader or the PC/SC service failed (gone, busy, service not running)."""


class CardError(DriverError):
    """The card answered wrongly, was pulled mid-read, or timed out."""


class ScannerError(DriverError):
    """The barcode scanner's serial port failed."""


class PrinterError(DriverError):
    """The receipt printer's serial port failed."""
