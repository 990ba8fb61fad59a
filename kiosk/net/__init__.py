"""Talking to peers on the branch LAN: discovery, messages and connections."""
