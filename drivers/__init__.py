"""Hardware drivers (card reader, barcode scanner, receipt printer): each a small interface, a real implementation and a fake."""
