"""Services: the trial life, scheduling, regions and reconciliation. They flush; routes commit."""
