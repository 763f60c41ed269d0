"""OAuth 2.0 for the mailbox connectors: settings, provider endpoints, grants, and the encrypted token store.

docs/architecture/oauth.md explains the whole: `config` reads a mailbox's `settings["oauth"]`, `providers` knows
Microsoft's, Google's and any OpenID Connect issuer's endpoints, `client` talks to the token endpoint (authlib),
`store` keeps the tokens in `Mailbox.secrets` and refreshes them under a row lock (`MailboxTokenSource`), `consent`
runs the authorization-code flow with PKCE for the console, and `smtp` hands tokens to the outbound relay.
"""
