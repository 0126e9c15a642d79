"""The miniport's lowest floor: byte pipes to the hardware.

``base`` is the interface and the behaviour every transport shares;
``serial_port`` drives a tty through pyserial (``serial_open`` opens it and
``lockfile`` takes its UUCP lock); ``usb_port`` drives a USB CDC-ACM device
through pyusb (``usb_cdc`` names devices, ``usb_device`` finds their interfaces).
"""
