"""The product's rules as plain synchronous functions run on the database executor (one transaction per change): no Tornado, no asyncio, callable from tests without HTTP."""
