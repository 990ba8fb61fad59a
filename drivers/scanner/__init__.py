"""Barcode scanner: the interface, the serial driver, its fake, and the shared bytes → scan parsing."""
from __future__ import annotations

from .events import BarcodeScanner, Listener, ScanEvent, ScannerStatus, ScanProblem, ScanResult, Scanned, StatusChanged, Unusable
from .fake import FakeScanner
from .frames import FrameParser, interpret
from .serial_scanner import SerialScanner

__all__ = [
    "BarcodeScanner", "FakeScanner", "FrameParser", "Listener", "ScanEvent", "ScanProblem", "ScanResult",
    "Scanned", "ScannerStatus", "SerialScanner", "StatusChanged", "Unusable", "interpret",
]
