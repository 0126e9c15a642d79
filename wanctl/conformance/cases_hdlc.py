"""Cases: hdlc (filled in below)."""
