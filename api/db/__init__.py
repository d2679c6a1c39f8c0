"""The database: typed models, engine/session lifecycle, and the database clock."""
