"""The governor's representative's console: the case book, its network service, and its Kivy view."""
