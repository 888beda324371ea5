"""What agencies use: the publishing SDK, the HTTP gateway, and the receiver helper."""
