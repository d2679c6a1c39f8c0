"""The search: scale transforms, strategies (samplers) and pruners. Pure; no database access."""
