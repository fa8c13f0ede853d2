"""Login: local accounts (password, mandatory TOTP, lockout) or Pro Santé Connect; idle lock."""
