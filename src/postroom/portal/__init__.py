"""The requester portal: requesters sign in with a one-time link by email, see their tickets and reply."""
