"""Hardware: port discovery, virtual hardware (cable, modems) and the test rigs."""
