"""Cases: auth (filled in below)."""
