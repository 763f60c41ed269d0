"""Inbound: the ledger of received raw mail and the pipeline that turns it into tickets."""
