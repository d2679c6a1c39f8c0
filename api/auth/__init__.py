"""Who may call the api: bearer tokens with roles, the role table, the loopback rules."""
