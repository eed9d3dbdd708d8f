"""The agent console and the website widget: static files served by the Chalice app."""
