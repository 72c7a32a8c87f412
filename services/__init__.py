"""The product's rules as plain functions: no Tornado here, callable from tests without HTTP."""
