"""Agent authentication and roles (C14): Cognito logins, JWTs verified against the pool's JWKS on
every request (in the app itself, so the local stack verifies exactly as AWS does)."""
