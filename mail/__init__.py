"""The webmail feature: MSSanté mailboxes read and written through IMAP and SMTP."""
