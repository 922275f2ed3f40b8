"""Who is calling and what they may do: passwords, sessions, tokens, CSRF, security headers.

Routes use the dependencies in `app.auth.deps`; services take the `Caller` from
`app.auth.permissions`. docs/security.md has the role x action matrix.
"""
