"""The bundled Vazirmatn font (OFL), so screens and receipts never depend on system fonts."""
from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).resolve().parent
REGULAR = FOLDER / "Vazirmatn-Regular.ttf"
BOLD = FOLDER / "Vazirmatn-Bold.ttf"
