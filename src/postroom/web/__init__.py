"""The agent console: server-rendered pages (the full console grows with issue #4)."""
