"""E-mail in: mail to the support address opens or continues tickets (issue 16)."""
