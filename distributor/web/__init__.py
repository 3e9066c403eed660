"""`distributor serve`: the reader pages and the SendGrid Event Webhook (app.py),
served by uvicorn (server.py)."""
