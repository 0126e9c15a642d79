"""Suite-wide test configuration: the hardware rig's command-line options."""

pytest_plugins = ["tests.hardware.hil_options"]
