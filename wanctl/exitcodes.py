"""pppd's exit codes (defined once, at the bottom layer, in ``wanminiport.exitcodes``)."""

from wanminiport.exitcodes import ExitCode

__all__ = ["ExitCode"]
