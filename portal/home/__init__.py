"""The home page: who the user is, where and in which role they work."""
