"""Who may call the api, and what a browser may do with it: bearer tokens with roles (each
route declares its own, ``access``), the loopback and Host rules, the cross-site check and the
security headers."""
