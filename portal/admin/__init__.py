"""Administration of users and establishments."""
