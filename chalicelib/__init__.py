"""Omniflow core: everything the Lambdas share. See README.md, "Architecture"."""
