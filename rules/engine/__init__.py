"""The rule engine runtime: the loop around the pure rules and the pure deciding (decide.py)."""
