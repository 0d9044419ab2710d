"""Group support chats of customer companies, joined with reseller (or staff) approval."""
