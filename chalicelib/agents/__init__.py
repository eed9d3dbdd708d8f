"""Agents and skill groups (C3, C4). Logins live in Cognito; this is their work profile."""
