"""Local login: password, mandatory second factor (TOTP), lockout, idle lock."""
