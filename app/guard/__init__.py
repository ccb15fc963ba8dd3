"""What a request must pass before the app does any work for it: no key in the address, a
known key, the rate limits, a body within its size and time (middleware.py); and the headers
every response carries (headers.py)."""
