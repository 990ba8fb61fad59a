"""Smart-card reading in layers: PC/SC transport (pcsc.py) → card profile (profiles.py) → policy in the core."""
