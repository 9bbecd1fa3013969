"""`counterwatch run`: live cameras, one worker thread each, the alert outbox and the web server."""
