"""Hardware: the product's tools for real ports (discovery, udev rules, selftest)
and, in ``hw.lab``, the virtual hardware the tests and the demo run on."""
