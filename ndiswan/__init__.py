"""NDISWAN: PPP on each VC, repackaging, per-VC send windows, loopback, TUN."""
