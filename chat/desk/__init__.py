"""The agent desk: queues, claims, canned replies, assignment rules, customer notes."""
