"""What the kiosk does with a traveller: the crossing, screening, captures, statistics, self-test."""
