"""wanctl: the command line, profiles, control socket and pcap capture."""
