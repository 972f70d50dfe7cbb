"""The interactive explorer (``pvmon serve``): ad-hoc analyses under filters, and signal triage."""
