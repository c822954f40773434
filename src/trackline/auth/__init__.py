"""OAuth (Authorization Code with PKCE on a loopback redirect) and per-user access tokens."""
