"""Bounces: delivery status notifications (RFC 3464), plain-text bounces of common MTAs, Amazon SES events and
feedback reports (RFC 5965), read into failed recipients with status, reply code, reason and hard/soft.

Pure: no Django. The public entry point stays `postroom.mail.reports.parse_report`, which also reads read
receipts (RFC 8098); see docs/architecture/bounces.md.
"""
