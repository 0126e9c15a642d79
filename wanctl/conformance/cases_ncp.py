"""Cases: ncp (filled in below)."""
