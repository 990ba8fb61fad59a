"""Text for people: Persian shaping and right-to-left layout shared by the receipt printer and the UI."""
