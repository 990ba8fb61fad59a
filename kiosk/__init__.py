"""Election-day polling-branch kiosk: offline voter check and durable check-in."""
