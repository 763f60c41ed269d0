"""Transports that move raw message bytes in and out: the inbound SMTP/LMTP listener and its values."""
