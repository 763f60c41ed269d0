"""Tickets: queues, contacts, tickets, their messages and attachments."""
